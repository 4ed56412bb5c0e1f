package tests

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// requestHistogram sums epfs_request_duration_seconds over the loops:
// the count, and the cumulative count of each bucket by bound.
func requestHistogram(t *testing.T, fams map[string]*dto.MetricFamily) (count uint64, buckets map[float64]uint64) {
	t.Helper()
	fam := fams["epfs_request_duration_seconds"]
	if fam.GetType() != dto.MetricType_HISTOGRAM || len(fam.GetMetric()) == 0 {
		t.Fatalf("epfs_request_duration_seconds: %v", fam)
	}
	buckets = map[float64]uint64{}
	for _, m := range fam.GetMetric() {
		h := m.GetHistogram()
		count += h.GetSampleCount()
		var prev uint64
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
				t.Errorf("loop %v: buckets not monotone: %v", m.GetLabel(), h.GetBucket())
			}
			prev = b.GetCumulativeCount()
			buckets[b.GetUpperBound()] += b.GetCumulativeCount()
		}
		if h.GetSampleSum() < 0 {
			t.Errorf("negative sum %v", h.GetSampleSum())
		}
	}
	return count, buckets
}

// TestRequestDurationHistogram: every request answered, whatever its
// status or how its head came (kept alive, HTTP/1.0, refused by the
// parser), is one observation of epfs_request_duration_seconds, and the
// buckets are fixed and cumulative.
func TestRequestDurationHistogram(t *testing.T) {
	f := newFixture(t)
	p, base := serve(t, f, "--admin-listen", "127.0.0.1:0", "--autoindex")
	admin := adminURL(t, p)
	addr := strings.TrimPrefix(base, "http://")
	before, _ := requestHistogram(t, scrape(t, admin))
	client := &http.Client{Timeout: 10 * time.Second}
	made := 0
	// "/dir" is two requests: the 301 and the client following it.
	for _, path := range []string{"/hello.txt", "/nope", "/list/", "/big.bin", "/dir", "/hello.txt"} {
		r, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		made++
	}
	made++ // the redirect followed
	// Three pipelined on one connection, an HTTP/1.0 one, and a head the
	// parser refuses.
	raw(t, addr, "GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\nHEAD /style.css HTTP/1.1\r\nHost: a\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	raw(t, addr, "GET /hello.txt HTTP/1.0\r\n\r\n")
	raw(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nBad Field: x\r\n\r\n")
	made += 5
	var count uint64
	var buckets map[float64]uint64
	// The last response's observation lands when the loop finishes it,
	// which may come just after the client has read it.
	waitFor(t, "an observation per request", func() bool {
		count, buckets = requestHistogram(t, scrape(t, admin))
		return count-before >= uint64(made)
	})
	if count-before != uint64(made) {
		t.Errorf("%d observations for %d requests", count-before, made)
	}
	want := []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	if len(buckets) != len(want)+1 || buckets[math.Inf(1)] != count {
		t.Errorf("buckets %v, want the bounds %v and +Inf (%d)", buckets, want, count)
	}
	for _, b := range want {
		if _, ok := buckets[b]; !ok {
			t.Errorf("no bucket le=%v", b)
		}
	}
}

// TestOpenMetrics: a scraper that asks for OpenMetrics gets it, valid by a
// strict reading of OpenMetrics 1.0: its content type, # EOF, counters'
// families named without _total, units stated where a name ends in one,
// the histograms whole; one that does not ask gets the Prometheus text
// format.
func TestOpenMetrics(t *testing.T) {
	f := newFixture(t)
	p, base := serve(t, f, "--admin-listen", "127.0.0.1:0")
	admin := adminURL(t, p)
	if code, _, _ := get(t, base, "/hello.txt"); code != 200 {
		t.Fatalf("GET /hello.txt: %d", code)
	}
	req, err := http.NewRequest("GET", admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	r, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text := body(t, r)
	// client_golang adds "escaping=underscores" (names are not UTF-8
	// escaped), a parameter OpenMetrics 1.0 does not define and a parser
	// ignores.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0; charset=utf-8") {
		t.Errorf("Content-Type %q", ct)
	}
	fams, err := parseOpenMetrics(text)
	if err != nil {
		t.Fatalf("not OpenMetrics: %v", err)
	}
	for name, want := range map[string][2]string{
		"epfs_request_duration_seconds": {"histogram", "seconds"},
		"epfs_requests":                 {"counter", ""},
		"epfs_bytes":                    {"counter", "bytes"},
		"epfs_access_log_dropped":       {"counter", ""},
		"epfs_access_log_write_errors":  {"counter", ""},
		"epfs_listing_bytes":            {"gauge", "bytes"},
		"epfs_io_wait_seconds":          {"histogram", "seconds"},
		"epfs_build_info":               {"gauge", ""},
	} {
		fam := fams[name]
		if fam == nil || fam.typ != want[0] || fam.unit != want[1] || !fam.help {
			t.Errorf("%s: %+v, want type %s unit %q with help", name, fam, want[0], want[1])
		}
	}
	if fam := fams["epfs_requests"]; fam != nil && (len(fam.samples) == 0 || fam.samples[0].name != "epfs_requests_total") {
		t.Errorf("epfs_requests samples %+v", fam.samples)
	}
	if !strings.Contains(text, "# UNIT epfs_request_duration_seconds seconds\n") {
		t.Error("no UNIT line for the request durations")
	}
	// The checker refuses what it should.
	for _, bad := range []string{
		"a_total 1\n",                                      // no # EOF
		"# TYPE a counter\na_total 1\n\n# EOF\n",           // a blank line
		"# TYPE a_total counter\na_total_total 1\n# EOF\n", // _total in a counter's family name
		"# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\na_count 1\n# EOF\n",
		"# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n",
		"# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n",
	} {
		if _, err := parseOpenMetrics(bad); err == nil {
			t.Errorf("the checker passed %q", bad)
		}
	}

	r, err = adminClient.Get(admin)
	if err != nil {
		t.Fatal(err)
	}
	plain := body(t, r)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || strings.Contains(plain, "# EOF") {
		t.Errorf("without Accept: Content-Type %q", ct)
	}
}

// omFamily is one metric family of an OpenMetrics exposition.
type omFamily struct {
	name, typ, unit string
	help            bool
	samples         []omSample
}

// omSample is one sample line.
type omSample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	omName   = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	omLabel  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	omTypes  = map[string][]string{"counter": {"_total", "_created"}, "gauge": {""}, "histogram": {"_bucket", "_count", "_sum", "_created"}, "gaugehistogram": {"_bucket", "_gcount", "_gsum"}, "summary": {"", "_count", "_sum", "_created"}, "info": {"_info"}, "stateset": {""}, "unknown": {""}}
	omEscape = strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n")
)

// parseOpenMetrics checks an exposition against the MUSTs of OpenMetrics
// 1.0 (the text format's ABNF and the rules per type) and returns its
// families by name. It is strict on purpose: one "# EOF" ending the text,
// no blank line, each family's metadata once and before its samples, a
// family's lines together, sample names the family's name plus a suffix
// its type allows, a unit that ends the name, a counter's family name
// without _total, no series twice, counters not negative or NaN, and
// histogram buckets sorted, cumulative, ending with le="+Inf" equal to
// _count.
func parseOpenMetrics(text string) (map[string]*omFamily, error) {
	body, ok := strings.CutSuffix(text, "# EOF\n")
	if !ok {
		if body, ok = strings.CutSuffix(text, "# EOF"); !ok {
			return nil, fmt.Errorf("the exposition does not end with # EOF")
		}
	}
	fams := map[string]*omFamily{}
	var cur *omFamily
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		fail := func(format string, a ...any) error {
			return fmt.Errorf("line %d %q: %s", i+1, line, fmt.Sprintf(format, a...))
		}
		if line == "" {
			return nil, fail("blank line")
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			kind, rest, _ := strings.Cut(rest, " ")
			name, arg, _ := strings.Cut(rest, " ")
			if !omName.MatchString(name) {
				return nil, fail("bad family name")
			}
			if cur == nil || cur.name != name {
				if fams[name] != nil {
					return nil, fail("family %s seen before: its lines are not together", name)
				}
				cur = &omFamily{name: name, typ: "unknown"}
				fams[name] = cur
			}
			if len(cur.samples) > 0 {
				return nil, fail("metadata after samples")
			}
			switch kind {
			case "TYPE":
				if omTypes[arg] == nil || cur.typ != "unknown" && seen[name+" TYPE"] {
					return nil, fail("bad or repeated TYPE")
				}
				cur.typ = arg
			case "UNIT":
				if arg == "" || !strings.HasSuffix(name, "_"+arg) {
					return nil, fail("a unit must end the family name")
				}
				cur.unit = arg
			case "HELP":
				cur.help = true
			default:
				return nil, fail("unknown metadata %q (EOF only ends the exposition)", kind)
			}
			if seen[name+" "+kind] {
				return nil, fail("repeated %s", kind)
			}
			seen[name+" "+kind] = true
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fail("%v", err)
		}
		if cur == nil || !hasSuffixOf(s.name, cur.name, omTypes[cur.typ]) {
			// A family with no metadata is unknown-typed and named as its sample.
			if fams[s.name] != nil {
				return nil, fail("sample outside its family")
			}
			cur = &omFamily{name: s.name, typ: "unknown"}
			fams[s.name] = cur
		}
		key := s.name + fmt.Sprint(s.labels)
		if seen[key] {
			return nil, fail("series repeated")
		}
		seen[key] = true
		cur.samples = append(cur.samples, s)
	}
	for _, f := range fams {
		if err := f.check(); err != nil {
			return nil, fmt.Errorf("family %s: %v", f.name, err)
		}
	}
	return fams, nil
}

func hasSuffixOf(sample, family string, suffixes []string) bool {
	for _, s := range suffixes {
		if sample == family+s {
			return true
		}
	}
	return false
}

// parseSample reads `name{label="value",...} value [timestamp]`.
func parseSample(line string) (omSample, error) {
	s := omSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name, line = line[:i], line[i:]
	if !omName.MatchString(s.name) {
		return s, fmt.Errorf("bad metric name")
	}
	if strings.HasPrefix(line, "{") {
		line = line[1:]
		for !strings.HasPrefix(line, "}") {
			name, rest, ok := strings.Cut(line, `="`)
			if !ok || !omLabel.MatchString(name) || s.labels[name] != "" {
				return s, fmt.Errorf("bad or repeated label name %q", name)
			}
			end := -1
			for j := 0; j < len(rest); j++ {
				if rest[j] == '\\' {
					if j+1 >= len(rest) || !strings.ContainsRune(`\"n`, rune(rest[j+1])) {
						return s, fmt.Errorf("bad escape in label %s", name)
					}
					j++
				} else if rest[j] == '"' {
					end = j
					break
				} else if rest[j] == '\n' {
					return s, fmt.Errorf("raw newline in label %s", name)
				}
			}
			if end < 0 {
				return s, fmt.Errorf("unterminated label value")
			}
			s.labels[name] = omEscape.Replace(rest[:end])
			line = rest[end+1:]
			if strings.HasPrefix(line, ",") {
				line = line[1:]
			} else if !strings.HasPrefix(line, "}") {
				return s, fmt.Errorf("labels not separated by a comma")
			}
		}
		line = line[1:]
	}
	fields := strings.Split(strings.TrimPrefix(line, " "), " ")
	if !strings.HasPrefix(line, " ") || len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("want one space, a value and at most a timestamp")
	}
	v, err := parseOMFloat(fields[0])
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

// parseOMFloat reads a number as OpenMetrics writes it: a decimal or
// exponent form, NaN, +Inf or -Inf (no hex, no underscores, no "Inf").
func parseOMFloat(f string) (float64, error) {
	switch f {
	case "NaN":
		return math.NaN(), nil
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	if strings.ContainsAny(f, "xX_pP") || strings.EqualFold(strings.TrimLeft(f, "+-"), "inf") || strings.EqualFold(f, "nan") {
		return 0, fmt.Errorf("bad number %q", f)
	}
	return strconv.ParseFloat(f, 64)
}

// check applies the rules of the family's type.
func (f *omFamily) check() error {
	if f.typ == "counter" && strings.HasSuffix(f.name, "_total") {
		return fmt.Errorf("a counter's family name must not end in _total (its samples do)")
	}
	for _, s := range f.samples {
		if f.typ == "counter" && (s.value < 0 || math.IsNaN(s.value)) {
			return fmt.Errorf("counter %v", s.value)
		}
	}
	if f.typ != "histogram" {
		return nil
	}
	// Buckets by series (the labels but le), in order of appearance.
	type series struct {
		les    []float64
		counts []float64
		count  float64
		hasCnt bool
	}
	all := map[string]*series{}
	get := func(s omSample) *series {
		l := map[string]string{}
		for k, v := range s.labels {
			if k != "le" {
				l[k] = v
			}
		}
		k := fmt.Sprint(l)
		if all[k] == nil {
			all[k] = &series{}
		}
		return all[k]
	}
	for _, s := range f.samples {
		se := get(s)
		switch s.name {
		case f.name + "_bucket":
			le, err := parseOMFloat(s.labels["le"])
			if err != nil {
				return fmt.Errorf("bucket le %q: %v", s.labels["le"], err)
			}
			if n := len(se.les); n > 0 && (le <= se.les[n-1] || s.value < se.counts[n-1]) {
				return fmt.Errorf("buckets not sorted or not cumulative at le=%v", le)
			}
			se.les, se.counts = append(se.les, le), append(se.counts, s.value)
		case f.name + "_count":
			se.count, se.hasCnt = s.value, true
		}
	}
	for k, se := range all {
		n := len(se.les)
		if n == 0 || !math.IsInf(se.les[n-1], 1) || !se.hasCnt || se.counts[n-1] != se.count {
			return fmt.Errorf("series %s: no +Inf bucket, or it differs from _count", k)
		}
	}
	return nil
}
