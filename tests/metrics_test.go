package tests

import (
	"io"
	"math"
	"net/http"
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
