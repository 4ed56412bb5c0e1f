package tests

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

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
