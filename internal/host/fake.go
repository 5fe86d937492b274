package host

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// FakeRunner records commands and answers them from a table, for unit tests
// of pure logic; integration tests run the real tools.
type FakeRunner struct {
	mu sync.Mutex
	// Responses maps a command line (QuoteArgv) to its stdout; a missing
	// entry answers with empty output.
	Responses map[string]string
	// Errors maps a command line to the error it fails with.
	Errors map[string]error
	// Calls holds every command line run, in order.
	Calls []string
}

// Run records the call and returns the configured answer.
func (f *FakeRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	argv := QuoteArgv(name, args)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, argv)
	if err, ok := f.Errors[argv]; ok {
		return nil, fmt.Errorf("%s: %w", argv, err)
	}
	return []byte(f.Responses[argv]), nil
}

// CallsWithPrefix returns the recorded calls that start with prefix.
func (f *FakeRunner) CallsWithPrefix(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.Calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
