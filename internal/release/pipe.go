package release

import (
	"io"
)

// pipeDepth buffers are in flight between the reader and the writer.
const pipeDepth = 4

type chunk struct {
	buf []byte
	n   int
	err error
}

// pipeCopy copies src to dst like io.Copy, but reads in its own goroutine so
// the network read overlaps hashing and writing: on a Pi, sha256 alone is
// about as slow as the link, and a sequential loop would add the two. The
// caller must close src after pipeCopy returns, which also releases the
// reader goroutine when dst failed first.
func pipeCopy(dst io.Writer, src io.Reader) (int64, error) {
	free := make(chan []byte, pipeDepth)
	full := make(chan chunk, pipeDepth)
	done := make(chan struct{})
	defer close(done)
	for range pipeDepth {
		free <- make([]byte, copyBufSize)
	}
	go readChunks(src, free, full, done)
	var written int64
	for c := range full {
		if c.n > 0 {
			if _, err := dst.Write(c.buf[:c.n]); err != nil {
				return written, err
			}
			written += int64(c.n)
		}
		if c.err == io.EOF {
			return written, nil
		}
		if c.err != nil {
			return written, c.err
		}
		free <- c.buf
	}
	return written, nil
}

func readChunks(src io.Reader, free <-chan []byte, full chan<- chunk, done <-chan struct{}) {
	defer close(full)
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-done:
			return
		}
		n, err := src.Read(buf)
		select {
		case full <- chunk{buf, n, err}:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}
