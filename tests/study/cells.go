package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// cellResult is one strategy × size measurement.
type cellResult struct {
	Strategy  string             `json:"strategy"`
	Size      int64              `json:"size"`
	Responses int                `json:"responses"`
	Seconds   float64            `json:"seconds"`
	PerResp   map[string]float64 `json:"syscalls_per_response"` // by syscall, every result
	EAGAIN    float64            `json:"eagain"`                // EAGAIN results, every syscall
	ProcCPU   float64            `json:"process_cpu_seconds"`   // epfs process, utime+stime
	LoopCPU   float64            `json:"loop_cpu_seconds"`      // the loop thread alone
	SegsIn    float64            `json:"data_segments_in"`      // TCP data segments the client received
}

// MiB is the body bytes moved, in MiB.
func (c *cellResult) MiB() float64 {
	return float64(c.Size) * float64(c.Responses) / (1 << 20)
}

// studyStrategy starts epfs with strategy and measures every size.
func studyStrategy(ctx context.Context, cfg *config, root, strategy string) ([]cellResult, error) {
	p, err := startEpfs(ctx, cfg.epfs, root, strategy)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	var cells []cellResult
	for _, size := range sizes {
		c, err := measureCell(ctx, p, strategy, size, cfg.cell)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sizeLabel(size), err)
		}
		fmt.Printf("study: %-8s %7s  %5d responses  %8.1f MiB/s\n", strategy, sizeLabel(size), c.Responses, c.MiB()/c.Seconds)
		cells = append(cells, c)
	}
	return cells, nil
}

// measureCell sends GETs for one file on one keep-alive connection for d
// (and at least one), after one warm-up request that opens and caches the
// file and brings it into the page cache.
func measureCell(ctx context.Context, p *epfsProc, strategy string, size int64, d time.Duration) (cellResult, error) {
	res := cellResult{Strategy: strategy, Size: size}
	cl, err := dialClient(p.addr, "/"+fileName(size))
	if err != nil {
		return res, err
	}
	defer cl.close()
	if err := cl.get(size); err != nil {
		return res, err
	}
	procStat := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
	loopStat := fmt.Sprintf("/proc/%d/task/%d/stat", p.cmd.Process.Pid, p.tid)
	before, err := scrape(p.metrics)
	if err != nil {
		return res, err
	}
	pc0, err1 := cpuTime(procStat)
	lc0, err2 := cpuTime(loopStat)
	segs0, err3 := cl.dataSegsIn()
	if err := errors.Join(err1, err2, err3); err != nil {
		return res, err
	}
	start := time.Now()
	for res.Responses == 0 || time.Since(start) < d {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := cl.get(size); err != nil {
			return res, err
		}
		res.Responses++
	}
	res.Seconds = time.Since(start).Seconds()
	segs1, err3 := cl.dataSegsIn()
	pc1, err1 := cpuTime(procStat)
	lc1, err2 := cpuTime(loopStat)
	after, err := scrape(p.metrics)
	if err := errors.Join(err, err1, err2, err3); err != nil {
		return res, err
	}
	delta := after.sub(before)
	res.PerResp = map[string]float64{}
	for sc := range delta.calls {
		if n := delta.total(sc); n > 0 {
			res.PerResp[sc] = n / float64(res.Responses)
		}
	}
	res.EAGAIN = delta.results("eagain")
	res.ProcCPU = (pc1 - pc0).Seconds()
	res.LoopCPU = (lc1 - lc0).Seconds()
	res.SegsIn = float64(segs1 - segs0)
	return res, nil
}

// client is one keep-alive connection asking for one path again and again.
type client struct {
	conn *net.TCPConn
	br   *bufio.Reader
	req  []byte
}

func dialClient(addr, path string) (*client, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &client{
		conn: c.(*net.TCPConn),
		br:   bufio.NewReaderSize(c, 256<<10),
		req:  []byte("GET " + path + " HTTP/1.1\r\nHost: study\r\n\r\n"),
	}, nil
}

func (c *client) close() { c.conn.Close() }

// get sends the request and reads the whole response, which must be a 200
// with a body of size bytes.
func (c *client) get(size int64) error {
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	var head []byte
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("response head: %w", err)
		}
		head = append(head, line...)
		if len(line) <= 2 { // the blank line ending the head
			break
		}
	}
	status, length, err := parseHead(head)
	if err != nil {
		return err
	}
	if status != 200 || length != size {
		return fmt.Errorf("got %d with %d bytes, want 200 with %d", status, length, size)
	}
	_, err = c.br.Discard(int(length))
	return err
}

// parseHead reads the status code and Content-Length of a response head.
func parseHead(head []byte) (status int, length int64, err error) {
	lines := bytes.Split(bytes.TrimRight(head, "\r\n"), []byte("\r\n"))
	f := bytes.Fields(lines[0])
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return 0, 0, fmt.Errorf("status line %q", lines[0])
	}
	if status, err = strconv.Atoi(string(f[1])); err != nil {
		return 0, 0, fmt.Errorf("status line %q", lines[0])
	}
	length = -1
	for _, l := range lines[1:] {
		k, v, ok := bytes.Cut(l, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Content-Length")) {
			if length, err = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err != nil {
				return 0, 0, fmt.Errorf("Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return 0, 0, errors.New("no Content-Length")
	}
	return status, length, nil
}

// dataSegsIn is TCP_INFO's tcpi_data_segs_in for the client's socket: the
// segments with payload it has received, so what the server's calls made
// on the wire (loopback's MTU is 64 KiB, so a segment is up to ~64 KiB).
func (c *client) dataSegsIn() (uint32, error) {
	rc, err := c.conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var info *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("getsockopt TCP_INFO", serr)
	}
	return info.Data_segs_in, nil
}
