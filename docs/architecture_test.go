// Package docs holds the project's documentation; its test keeps
// architecture.md true to the code.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/agent"
)

func readDoc(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Every package under internal/ and cmd/ is named in the map.
func TestEveryPackageIsNamed(t *testing.T) {
	doc := readDoc(t)
	for _, top := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join("..", top), func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if !hasGoSource(t, path) {
				return nil
			}
			pkg := filepath.ToSlash(strings.TrimPrefix(path, ".."+string(filepath.Separator)))
			if !strings.Contains(doc, "`"+pkg+"`") {
				t.Errorf("docs/architecture.md does not name `%s`", pkg)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func hasGoSource(t *testing.T, dir string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			return true
		}
	}
	return false
}

// The step table on the page is the agent's, in its order.
func TestStepTableMatchesTheCode(t *testing.T) {
	doc := readDoc(t)
	_, section, ok := strings.Cut(doc, "## The step table")
	if !ok {
		t.Fatal("docs/architecture.md has no step table section")
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9]+)` \\|")
	var got []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		got = append(got, m[1])
	}
	if diff := cmp.Diff(agent.StepNames(), got); diff != "" {
		t.Errorf("step table of docs/architecture.md (-code +doc):\n%s", diff)
	}
}
