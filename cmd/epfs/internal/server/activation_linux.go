//go:build linux

package server

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/epfs/epfs/poller"
)

// listenFdsStart is the first descriptor a service manager passes
// (SD_LISTEN_FDS_START in sd_listen_fds(3)): 0, 1 and 2 stay stdio.
const listenFdsStart = 3

// Activation reads the socket-activation protocol of sd_listen_fds(3): when
// LISTEN_PID names this process and LISTEN_FDS is N, descriptors 3 to 3+N-1
// are listening sockets opened by the service manager, named by
// LISTEN_FDNAMES (colon-separated). It checks that each is a listening
// stream socket and makes it nonblocking, then unsets the three variables so
// that no child inherits them. It returns no listeners, and touches nothing,
// when the variables are absent or meant for another process (LISTEN_PID is
// set by the manager for the process it started; a child that inherited the
// environment must not take the descriptors).
func Activation() ([]*poller.Listener, []string, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if pid == "" || fds == "" || pid != strconv.Itoa(os.Getpid()) {
		return nil, nil, nil
	}
	names := os.Getenv("LISTEN_FDNAMES")
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 1 || n > 1024 {
		return nil, nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a descriptor count", fds)
	}
	var nameList []string
	if names != "" {
		nameList = strings.Split(names, ":")
	}
	lns := make([]*poller.Listener, 0, n)
	for i := 0; i < n; i++ {
		fd := listenFdsStart + i
		ln, err := poller.FileListener(fd)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, nil, fmt.Errorf("socket activation: %w", err)
		}
		lns = append(lns, ln)
		if i >= len(nameList) {
			nameList = append(nameList, "unknown")
		}
	}
	return lns, nameList[:n], nil
}
