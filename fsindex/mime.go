package fsindex

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"strings"
)

// contentTypes maps a lower-case file extension, without its dot, to the
// Content-Type a response carries. Textual types name their charset: a
// browser that must guess the charset of text/html may guess one that turns
// bytes into markup (the UTF-7 attacks), and epfs never sniffs content, so the
// table is the whole story (RFC 9110 §8.3; WHATWG MIME Sniffing §7 is what
// X-Content-Type-Options: nosniff turns off).
//
// The types are the ones registered with IANA (the Media Types registry)
// where one is registered, else the one browsers and players expect, as
// collected by the jshttp/mime-db project; each entry was checked against
// both by hand, and none is read from the machine, so a response does not
// depend on where epfs runs.
var contentTypes = map[string]string{
	// Documents and their parts.
	"html":        "text/html; charset=utf-8",
	"htm":         "text/html; charset=utf-8",
	"xhtml":       "application/xhtml+xml",
	"css":         "text/css; charset=utf-8",
	"js":          "text/javascript; charset=utf-8", // RFC 9239 §6
	"mjs":         "text/javascript; charset=utf-8",
	"cjs":         "text/javascript; charset=utf-8",
	"json":        "application/json",    // RFC 8259 §11: no charset parameter
	"map":         "application/json",    // source maps are JSON
	"jsonld":      "application/ld+json", // JSON-LD 1.1 §C
	"geojson":     "application/geo+json",
	"webmanifest": "application/manifest+json",
	"wasm":        "application/wasm", // required for WebAssembly.instantiateStreaming
	"xml":         "text/xml; charset=utf-8",
	"rss":         "application/rss+xml",
	"atom":        "application/atom+xml", // RFC 4287 §7
	"txt":         "text/plain; charset=utf-8",
	"log":         "text/plain; charset=utf-8",
	"md":          "text/markdown; charset=utf-8", // RFC 7763
	"csv":         "text/csv; charset=utf-8",      // RFC 7111
	"tsv":         "text/tab-separated-values; charset=utf-8",
	"ics":         "text/calendar; charset=utf-8", // RFC 5545 §8.1
	"vtt":         "text/vtt; charset=utf-8",      // WebVTT §6: always UTF-8
	"srt":         "application/x-subrip",
	"yaml":        "application/yaml", // RFC 9512
	"yml":         "application/yaml",
	"toml":        "application/toml",
	"pdf":         "application/pdf",
	"epub":        "application/epub+zip",
	"rtf":         "application/rtf",
	"odt":         "application/vnd.oasis.opendocument.text",
	"ods":         "application/vnd.oasis.opendocument.spreadsheet",
	"odp":         "application/vnd.oasis.opendocument.presentation",
	"doc":         "application/msword",
	"docx":        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"xls":         "application/vnd.ms-excel",
	"xlsx":        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"ppt":         "application/vnd.ms-powerpoint",
	"pptx":        "application/vnd.openxmlformats-officedocument.presentationml.presentation",

	// Images. SVG is XML and carries its encoding in the prolog.
	"svg":  "image/svg+xml",
	"png":  "image/png",
	"apng": "image/apng",
	"jpg":  "image/jpeg",
	"jpeg": "image/jpeg",
	"gif":  "image/gif",
	"webp": "image/webp",
	"avif": "image/avif",
	"jxl":  "image/jxl",
	"heic": "image/heic",
	"heif": "image/heif",
	"bmp":  "image/bmp",
	"tif":  "image/tiff",
	"tiff": "image/tiff",
	"ico":  "image/vnd.microsoft.icon",

	// Fonts (RFC 8081).
	"woff":  "font/woff",
	"woff2": "font/woff2",
	"ttf":   "font/ttf",
	"otf":   "font/otf",
	"eot":   "application/vnd.ms-fontobject",

	// Audio and video, and the manifests and segments of streaming: HLS
	// (RFC 8216 §4: .m3u8 playlists, MPEG-2 transport stream segments)
	// and DASH (ISO/IEC 23009-1: .mpd manifests, .m4s segments).
	"mp3":  "audio/mpeg",
	"aac":  "audio/aac",
	"m4a":  "audio/mp4",
	"flac": "audio/flac",
	"oga":  "audio/ogg",
	"ogg":  "audio/ogg",
	"opus": "audio/ogg", // RFC 7845 §9: Opus files are Ogg
	"wav":  "audio/wav",
	"weba": "audio/webm",
	"mid":  "audio/midi",
	"midi": "audio/midi",
	"mp4":  "video/mp4",
	"m4v":  "video/mp4",
	"mov":  "video/quicktime",
	"webm": "video/webm",
	"ogv":  "video/ogg",
	"mkv":  "video/x-matroska",
	"avi":  "video/x-msvideo",
	"mpeg": "video/mpeg",
	"mpg":  "video/mpeg",
	"3gp":  "video/3gpp",
	"ts":   "video/mp2t", // the HLS segment, not TypeScript source (which browsers never load as such)
	"m3u8": "application/vnd.apple.mpegurl",
	"mpd":  "application/dash+xml",
	"m4s":  "video/iso.segment",

	// 3D models (glTF 2.0 §4.1).
	"gltf": "model/gltf+json",
	"glb":  "model/gltf-binary",

	// Archives. A .tar.gz is a gzip stream (the last extension decides);
	// it is not sent with Content-Encoding, which would make a browser
	// unpack it (RFC 9110 §8.4).
	"zip": "application/zip",
	"gz":  "application/gzip", // RFC 6713
	"tgz": "application/gzip",
	"tar": "application/x-tar",
	"bz2": "application/x-bzip2",
	"xz":  "application/x-xz",
	"zst": "application/zstd", // RFC 8878 §7.1
	"7z":  "application/x-7z-compressed",
	"jar": "application/java-archive",
}

// defaultContentType is sent for names the table does not know: RFC 9110
// §8.3 lets a sender that does not know the type omit the header, but then
// browsers sniff; octet-stream makes them download instead.
const defaultContentType = "application/octet-stream"

// maxExtension bounds the extensions a table may hold, so that lookups can
// lower-case into a stack buffer.
const maxExtension = 32

// ContentType returns the Content-Type for a file name (or path) from the
// built-in table, keyed by the extension after the last dot, compared without
// regard to ASCII case. Unknown or missing extensions give
// application/octet-stream. It never looks at the file's bytes.
func ContentType(name string) string {
	return lookupType(contentTypes, name)
}

// lookupType is ContentType over table: one map lookup, two for an
// extension not already in lower case.
func lookupType(table map[string]string, name string) string {
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
	if t, ok := table[ext]; ok {
		return t
	}
	// Try again in lower case. The buffer lives on the stack; no table
	// holds an extension longer than it, so longer ones cannot match.
	var buf [maxExtension]byte
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
	if t, ok := table[string(buf[:len(ext)])]; ok {
		return t
	}
	return defaultContentType
}

// ContentTypes returns the table Options.ContentTypes takes: the types of
// system (as ParseMimeTypes reads them from /etc/mime.types, or nil), under
// the built-in table, under overrides. The built-in table wins over the
// system's so that the same file gets the same type on every machine; the
// system's fill in the extensions the built-in table does not know; an
// override is the operator's word and wins over both. Every extension and
// type must have passed CheckExtension and CheckType.
func ContentTypes(system, overrides map[string]string) map[string]string {
	t := make(map[string]string, len(system)+len(contentTypes)+len(overrides))
	for _, m := range []map[string]string{system, contentTypes, overrides} {
		for ext, typ := range m {
			t[ext] = typ
		}
	}
	return t
}

// CheckExtension returns the extension as a table keys it — lower case,
// without a leading dot — or an error saying what an extension must be.
func CheckExtension(ext string) (string, error) {
	ext = strings.ToLower(strings.TrimPrefix(ext, "."))
	switch {
	case ext == "":
		return "", fmt.Errorf("empty extension")
	case len(ext) > maxExtension:
		return "", fmt.Errorf("extension longer than %d bytes", maxExtension)
	case strings.ContainsAny(ext, "./\x00"):
		return "", fmt.Errorf("an extension is the part after the last dot: no '.', '/' or NUL in it")
	}
	return ext, nil
}

// CheckType reports whether typ may be sent as a Content-Type value: a
// type/subtype with optional parameters, as RFC 9110 §8.3.1 defines it, and
// nothing that could end the header line.
func CheckType(typ string) error {
	for i := 0; i < len(typ); i++ {
		if b := typ[i]; b < ' ' && b != '\t' || b == 0x7f {
			return fmt.Errorf("control character %q in a media type", b)
		}
	}
	mt, _, err := mime.ParseMediaType(typ)
	if err != nil {
		return fmt.Errorf("not a media type: %v", err)
	}
	if !strings.Contains(mt, "/") {
		return fmt.Errorf("not a media type: no type/subtype")
	}
	return nil
}

// ParseMimeTypes reads a table in the format of /etc/mime.types (mime.types(5)):
// a media type, then the extensions that have it, separated by blanks; '#'
// starts a comment. A line whose type or extension does not pass CheckType
// or CheckExtension is skipped and counted in skipped (a system file is not
// the operator's to fix, and one odd line must not stop a start-up). An
// extension listed twice keeps its first type, as mailcap readers do.
func ParseMimeTypes(r io.Reader) (types map[string]string, skipped int, err error) {
	types = map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue // a type with no extension names nothing to serve
		}
		if CheckType(fields[0]) != nil {
			skipped++
			continue
		}
		for _, e := range fields[1:] {
			ext, err := CheckExtension(e)
			if err != nil {
				skipped++
				continue
			}
			if _, dup := types[ext]; !dup {
				types[ext] = fields[0]
			}
		}
	}
	return types, skipped, sc.Err()
}
