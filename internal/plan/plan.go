// Package plan describes what a step would do to a node, as data: the files it
// would write, the commands it would run, the objects it would apply. Steps
// build a Step from the same desired state they apply, so `nodeagent plan`
// shows exactly what `join` does.
package plan

// Step is one phase of provisioning, in the order the node runs them.
type Step struct {
	Name    string   `json:"name"`
	Summary string   `json:"summary"`
	Actions []Action `json:"actions,omitempty"`
	// Notes are facts worth showing that are not actions (waits, conditions).
	Notes []string `json:"notes,omitempty"`
}

// Action is one change a step makes.
type Action struct {
	Description string   `json:"description"`
	File        *File    `json:"file,omitempty"`
	Commands    []string `json:"commands,omitempty"`
}

// File is a file a step writes, with its exact content (secrets redacted).
type File struct {
	Path    string `json:"path"`
	Mode    string `json:"mode"`
	Content string `json:"content"`
}

// Node is the whole plan of one node.
type Node struct {
	Node  string `json:"node"`
	Role  string `json:"role"`
	Steps []Step `json:"steps"`
}

// Redacted replaces secret values in plan output.
const Redacted = "<redacted>"
