package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in the cluster file.
type FieldError struct {
	Line  int    // 1-based; 0 when unknown
	Field string // dotted path such as nodes[1].address; empty for syntax errors
	Msg   string
}

// Errors lists every problem found in one cluster file.
type Errors struct {
	Source string
	List   []FieldError
}

// Error formats each problem as "file:line: field: message", one per line.
func (e *Errors) Error() string {
	lines := make([]string, 0, len(e.List))
	for _, fe := range e.List {
		lines = append(lines, e.format(fe))
	}
	return strings.Join(lines, "\n")
}

func (e *Errors) format(fe FieldError) string {
	loc := e.Source
	if fe.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.Source, fe.Line)
	}
	if fe.Field == "" {
		return fmt.Sprintf("%s: %s", loc, fe.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, fe.Field, fe.Msg)
}

// problems collects validation errors against the line index of the file.
type problems struct {
	lines lineIndex
	list  []FieldError
}

// add records a problem at field (a dotted path); the line is that of the
// deepest part of the path that appears in the file.
func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, FieldError{Line: p.lines.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) sorted() []FieldError {
	sortByLine(p.list)
	return p.list
}

func sortByLine(list []FieldError) {
	sort.SliceStable(list, func(i, j int) bool { return list[i].Line < list[j].Line })
}

// Problem is a problem with field found outside decoding and validation
// (in a file the cluster file names), at the field's line as validation
// places its own.
func (f *File) Problem(field, format string, args ...any) FieldError {
	return FieldError{Line: f.lines.line(field), Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrorsOf returns list as the file's *Errors, sorted by line.
func (f *File) ErrorsOf(list []FieldError) error {
	sortByLine(list)
	return &Errors{Source: f.Source, List: list}
}
