package compress

import "strings"

// Compressible reports whether a Content-Type is on the list of types
// epfs compresses: they are text or a text-like format that gzip, brotli
// and zstd shrink several times, while the formats left out (images other
// than SVG, audio, video, fonts in WOFF/WOFF2, archives, PDF) are already
// compressed and would only cost CPU. Parameters (";charset=...") and
// case are ignored. The list:
//
//   - text/* (HTML, CSS, JavaScript as text/javascript, plain text,
//     Markdown, CSV, calendar, VTT...)
//   - application/javascript, application/x-javascript, application/ecmascript
//     (older names for JavaScript)
//   - application/json and every +json type: source maps (served as
//     application/json), web manifests (application/manifest+json),
//     JSON-LD, GeoJSON
//   - application/xml and every +xml type: SVG (image/svg+xml), XHTML,
//     RSS, Atom
//   - application/wasm
func Compressible(contentType string) bool {
	t, _, _ := strings.Cut(contentType, ";")
	t = strings.ToLower(strings.TrimSpace(t))
	switch {
	case strings.HasPrefix(t, "text/"):
		return true
	case strings.HasSuffix(t, "+json"), strings.HasSuffix(t, "+xml"):
		return true
	}
	switch t {
	case "application/javascript", "application/x-javascript", "application/ecmascript",
		"application/json", "application/xml", "application/wasm":
		return true
	}
	return false
}
