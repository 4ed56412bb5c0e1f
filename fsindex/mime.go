package fsindex

// contentTypes maps a lower-case file extension, without its dot, to the
// Content-Type a response carries. Textual types name their charset: a
// browser that must guess the charset of text/html may guess one that turns
// bytes into markup (the UTF-7 attacks), and epfs never sniffs content, so the
// table is the whole story (RFC 9110 §8.3; WHATWG MIME Sniffing §7 is what
// X-Content-Type-Options: nosniff turns off).
var contentTypes = map[string]string{
	"html":        "text/html; charset=utf-8",
	"htm":         "text/html; charset=utf-8",
	"css":         "text/css; charset=utf-8",
	"js":          "text/javascript; charset=utf-8", // RFC 9239 §6
	"mjs":         "text/javascript; charset=utf-8",
	"json":        "application/json", // RFC 8259 §11: no charset parameter
	"map":         "application/json", // source maps are JSON
	"svg":         "image/svg+xml",    // XML carries its encoding in the prolog
	"xml":         "text/xml; charset=utf-8",
	"txt":         "text/plain; charset=utf-8",
	"md":          "text/markdown; charset=utf-8", // RFC 7763
	"csv":         "text/csv; charset=utf-8",      // RFC 7111
	"png":         "image/png",
	"jpg":         "image/jpeg",
	"jpeg":        "image/jpeg",
	"gif":         "image/gif",
	"webp":        "image/webp",
	"avif":        "image/avif",
	"ico":         "image/vnd.microsoft.icon",
	"woff":        "font/woff", // RFC 8081
	"woff2":       "font/woff2",
	"ttf":         "font/ttf",
	"otf":         "font/otf",
	"wasm":        "application/wasm", // required for WebAssembly.instantiateStreaming
	"pdf":         "application/pdf",
	"zip":         "application/zip",
	"gz":          "application/gzip", // RFC 6713
	"mp3":         "audio/mpeg",
	"mp4":         "video/mp4",
	"webm":        "video/webm",
	"ogg":         "audio/ogg",
	"wav":         "audio/wav",
	"webmanifest": "application/manifest+json",
}

// defaultContentType is sent for names the table does not know: RFC 9110
// §8.3 lets a sender that does not know the type omit the header, but then
// browsers sniff; octet-stream makes them download instead.
const defaultContentType = "application/octet-stream"

// ContentType returns the Content-Type for a file name (or path) from the
// built-in table, keyed by the extension after the last dot, compared without
// regard to ASCII case. Unknown or missing extensions give
// application/octet-stream. It never looks at the file's bytes.
func ContentType(name string) string {
	dot := -1
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 || dot == len(name)-1 {
		return defaultContentType
	}
	ext := name[dot+1:]
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	// Try again in lower case. The buffer lives on the stack; the longest
	// extension in the table is short, so longer ones cannot match.
	var buf [16]byte
	if len(ext) > len(buf) {
		return defaultContentType
	}
	for i := 0; i < len(ext); i++ {
		b := ext[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[i] = b
	}
	if t, ok := contentTypes[string(buf[:len(ext)])]; ok {
		return t
	}
	return defaultContentType
}
