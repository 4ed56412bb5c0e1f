package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// drawCharts writes the study's charts into dir, in format (svg or png:
// gonum picks the encoder by the file's extension).
func drawCharts(dir, format string, res *results) error {
	perSize := []struct {
		file, title, ylabel string
		logY, legendLeft    bool
		value               func(c *cellResult) float64
	}{
		{"syscalls", "Syscalls per response", "syscalls (every kind and result)", true, true, func(c *cellResult) float64 {
			var n float64
			for _, v := range c.PerResp {
				n += v
			}
			return n
		}},
		{"cpu", "CPU per MiB of body (epfs process)", "ms of CPU per MiB", true, false, func(c *cellResult) float64 {
			return c.ProcCPU * 1e3 / c.MiB()
		}},
		{"throughput", "Throughput, one connection", "MiB/s of body", true, true, func(c *cellResult) float64 {
			return c.MiB() / c.Seconds
		}},
		{"eagain", "EAGAIN per MiB of body", "EAGAIN results per MiB", false, true, func(c *cellResult) float64 {
			return c.EAGAIN / c.MiB()
		}},
	}
	for _, ch := range perSize {
		if len(res.Cells) == 0 {
			break // nothing to place on a logarithmic axis
		}
		p, err := sizeChart(res.Cells, ch.title, ch.ylabel, ch.logY, ch.value)
		if err != nil {
			return fmt.Errorf("%s: %w", ch.file, err)
		}
		p.Legend.Left = ch.legendLeft
		if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, filepath.Join(dir, ch.file+"."+format)); err != nil {
			return err
		}
	}
	if len(res.Runtime) > 0 {
		if err := runtimeChart(filepath.Join(dir, "runtime."+format), format, res.Runtime); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
	}
	if len(res.Baseline) == 0 {
		return nil
	}
	p, err := baselineChart(res.Baseline)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return p.Save(16*vg.Centimeter, 10*vg.Centimeter, filepath.Join(dir, "baseline."+format))
}

// runtimeChart draws the runtime part side by side: CPU per request and
// the runtime's futex + nanosleep calls per second, one bar per server
// at the median round with a whisker from the least to the most.
func runtimeChart(path, format string, rs []runtimeResult) error {
	panels := []struct {
		title, ylabel string
		value         func(r *runtimeRound) float64
	}{
		{"CPU per 1 KiB request", "µs of CPU (process)", (*runtimeRound).CPUMicros},
		{"Runtime wakeups under load", "futex + nanosleep calls /s", (*runtimeRound).Wakeups},
	}
	var row []*plot.Plot
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.Y.Label.Text = pn.ylabel
		var bars rangeBars
		var names []string
		for i := range rs {
			vs := each(rs[i].Rounds, pn.value)
			bars = append(bars, barRange{x: float64(i), mid: median(vs), lo: slices.Min(vs), hi: slices.Max(vs)})
			names = append(names, rs[i].Short)
		}
		b, err := plotter.NewBarChart(bars, vg.Centimeter)
		if err != nil {
			return err
		}
		b.Color = plotutil.Color(0)
		e, err := plotter.NewYErrorBars(bars)
		if err != nil {
			return err
		}
		p.Add(b, e)
		p.NominalX(names...)
		p.Y.Min = 0
		p.Y.Tick.Marker = plainTicks{}
		row = append(row, p)
	}
	w, h := 16*vg.Centimeter, 8*vg.Centimeter
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return err
	}
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Centimeter / 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, draw.New(c))
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// plainTicks are gonum's default ticks labelled with as few digits as
// their values need ("5000", not "5000.00").
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		}
	}
	return ticks
}

// barRange is one bar of runtimeChart: its middle value and its range.
type barRange struct{ x, mid, lo, hi float64 }

// rangeBars are the bars of one panel, as gonum's Valuer (the bars'
// heights) and its XYer and YErrorer (the whiskers: distances below and
// above the middle).
type rangeBars []barRange

func (b rangeBars) Len() int                      { return len(b) }
func (b rangeBars) Value(i int) float64           { return b[i].mid }
func (b rangeBars) XY(i int) (x, y float64)       { return b[i].x, b[i].mid }
func (b rangeBars) YError(i int) (lo, hi float64) { return b[i].mid - b[i].lo, b[i].hi - b[i].mid }

// median is the middle value of vs (the mean of the middle two for an
// even count), without reordering vs.
func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// sizeChart plots one value against the body size, one line per strategy,
// on a logarithmic size axis. Values that are not positive are left out
// of a logarithmic chart (a cell too short for a CPU tick, say).
func sizeChart(cells []cellResult, title, ylabel string, logY bool, value func(*cellResult) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "body size"
	p.Y.Label.Text = ylabel
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, s := range sizes {
		ticks = append(ticks, plot.Tick{Value: float64(s), Label: sizeLabel(s)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top = true
	var lines []any
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, strategy := range strategies {
		var xys plotter.XYs
		for i := range cells {
			c := &cells[i]
			if c.Strategy != strategy {
				continue
			}
			v := value(c)
			if math.IsNaN(v) || math.IsInf(v, 0) || (logY && v <= 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: float64(c.Size), Y: v})
			ymin, ymax = min(ymin, v), max(ymax, v)
		}
		if len(xys) > 0 {
			lines = append(lines, strategy, xys)
		}
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return nil, err
	}
	p.X.Min, p.X.Max = float64(sizes[0])/2, float64(sizes[len(sizes)-1])*2
	// A logarithmic axis needs a positive range even when every value is
	// the same (gonum would pad it down to zero), and room for the legend.
	if logY && ymin <= ymax {
		p.Y.Min, p.Y.Max = ymin/2, ymax*4
	}
	return p, nil
}

// baselineChart places each sender by its thread's CPU time (x) and the
// time until the reader had the last byte (y), both logarithmic: the
// better way of waiting sits lower and further left.
func baselineChart(rs []baseResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Sending %s to a slow reader: what waiting after EAGAIN costs", sizeLabel(rs[0].Bytes))
	p.X.Label.Text = "sender thread CPU, ms"
	p.Y.Label.Text = "time to last byte, ms"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	var xys plotter.XYs
	var names []string
	for _, r := range rs {
		// A clock tick's worth at least: a log axis cannot place zero.
		xys = append(xys, plotter.XY{X: max(r.SenderCPU*1e3, 0.01), Y: max(r.Seconds*1e3, 0.01)})
		names = append(names, senderLabel(r.Sender))
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	sc.Color = plotutil.Color(0)
	sc.Radius = vg.Points(4)
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: names})
	if err != nil {
		return nil, err
	}
	labels.Offset = vg.Point{X: vg.Points(6), Y: vg.Points(2)} // right of the point
	p.Add(sc, labels)
	// Room for the labels right of the rightmost point and above the top.
	p.X.Min, p.X.Max = xys[0].X, xys[0].X
	p.Y.Min, p.Y.Max = xys[0].Y, xys[0].Y
	for _, xy := range xys {
		p.X.Min, p.X.Max = min(p.X.Min, xy.X), max(p.X.Max, xy.X)
		p.Y.Min, p.Y.Max = min(p.Y.Min, xy.Y), max(p.Y.Max, xy.Y)
	}
	p.X.Min, p.X.Max = p.X.Min/2, p.X.Max*4
	p.Y.Min, p.Y.Max = p.Y.Min/2, p.Y.Max*2
	return p, nil
}
