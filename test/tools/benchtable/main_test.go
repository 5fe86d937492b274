package main

import (
	"strings"
	"testing"
)

func TestTableFromTestOutput(t *testing.T) {
	in := strings.Join([]string{
		"=== RUN   TestBenchX",
		`    x_test.go:10: BENCHFIG {"name":"apply 60 objects","value":"41ms","target":"≤ 0.50× kubectl","baseline":"kubectl 450ms","met":true}`,
		"--- PASS: TestBenchX (1.00s)",
		`    y_test.go:3: BENCHFIG {"name":"download","value":"80 MB/s"}`,
		`    z_test.go:3: BENCHFIG {"name":"no-op","value":"300ms","target":"≤ 100ms","met":false}`,
		"BENCHFIG {broken",
	}, "\n")
	var out strings.Builder
	figures, err := copyAndCollect(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(figures) != 3 {
		t.Fatalf("got %d figures, want 3: %+v", len(figures), figures)
	}
	if !strings.HasPrefix(out.String(), "=== RUN   TestBenchX\n") || !strings.Contains(out.String(), "unreadable figure") {
		t.Errorf("input not passed on, or the broken figure not named:\n%s", out.String())
	}
	var table strings.Builder
	printTable(&table, figures)
	for _, want := range []string{
		"SUMMARY: 3 figures",
		"apply 60 objects  41ms",
		"kubectl 450ms",
		"yes",
		"download          80 MB/s",
		"NO",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}
