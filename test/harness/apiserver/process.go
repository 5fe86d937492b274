package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	// readyTimeout bounds the wait for /readyz. The apiserver is ready in a
	// few seconds on an idle 2-core machine; the margin is for a loaded CI.
	readyTimeout = 2 * time.Minute
	// readyPollInterval is how often /readyz is asked while starting.
	readyPollInterval = 100 * time.Millisecond
	// stopTimeout bounds the graceful shutdown after SIGTERM before SIGKILL.
	stopTimeout = 15 * time.Second
	// logTailLines is how much of the apiserver log a failure shows.
	logTailLines = 40
)

// errPortInUse reports that another process took the chosen port between
// freePort and the apiserver binding it; the caller retries with a new port.
var errPortInUse = errors.New("secure port already in use")

// process is one running kube-apiserver whose stderr goes to logPath.
type process struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

func startProcess(binary string, args []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating kube-apiserver log: %w", err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting kube-apiserver %s: %w", binary, err)
	}
	p := &process{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls baseURL/readyz until it answers 200, the process exits, or
// readyTimeout passes.
func (p *process) waitReady(baseURL string, tlsConfig *tls.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tlsConfig},
		Timeout:   5 * time.Second,
	}
	defer client.CloseIdleConnections()
	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()

	lastErr := errors.New("not polled yet")
	for {
		select {
		case <-p.done:
			if strings.Contains(p.logTail(), "address already in use") {
				return errPortInUse
			}
			return fmt.Errorf("kube-apiserver exited before ready: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %s: %w", readyTimeout, lastErr)
		case <-ticker.C:
			if lastErr = probe(ctx, client, baseURL+"/readyz"); lastErr == nil {
				return nil
			}
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// stop sends SIGTERM, and SIGKILL if the process has not exited within
// stopTimeout. It returns once the process is gone.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logTail returns the last logTailLines lines of the apiserver's output.
func (p *process) logTail() string {
	return tailFile(p.logPath, logTailLines)
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", path, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// freePort asks the kernel for an unused loopback port. The port is free
// only until someone else binds it, hence errPortInUse and the retry.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
