package firewall

// Diff returns the rules to add (desired, in their order, with no live rule
// of the same key) and to remove (live rules nodeagent owns that are no
// longer desired). A desired rule that exists as an operator's rule counts
// as present: adding it again would make ufw rewrite that rule's comment,
// taking it over. Rules without the owner tag are never removed.
func Diff(desired, live []Rule) (add, remove []Rule) {
	liveKeys := map[Rule]bool{}
	for _, r := range live {
		liveKeys[r.Key()] = true
	}
	wantKeys := map[Rule]bool{}
	for _, r := range desired {
		wantKeys[r.Key()] = true
		if !liveKeys[r.Key()] {
			add = append(add, r)
		}
	}
	for _, r := range live {
		if r.Owned() && !wantKeys[r.Key()] {
			remove = append(remove, r)
		}
	}
	return add, remove
}

// Change is one ufw command of a reconcile.
type Change struct {
	Description string
	// Args are the arguments of ufw.
	Args []string
}

// Changes is the ordered list of ufw commands that take the live state to
// the desired one; empty when nothing differs. The order keeps the owner's
// way in open at every moment: new rules (SSH first) go in before stale
// ones go out, defaults change only after all rules are in, and ufw is
// enabled last.
func Changes(live State, desired []Rule, defaults Defaults) []Change {
	add, remove := Diff(desired, live.Rules)
	var out []Change
	for _, r := range add {
		out = append(out, Change{Description: "add rule " + r.Comment, Args: r.AddArgs()})
	}
	for _, r := range remove {
		out = append(out, Change{Description: "delete stale rule " + r.Comment, Args: r.DeleteArgs()})
	}
	for _, d := range []struct{ dir, have, want string }{
		{"incoming", live.Defaults.Incoming, defaults.Incoming},
		{"outgoing", live.Defaults.Outgoing, defaults.Outgoing},
		{"routed", live.Defaults.Routed, defaults.Routed},
	} {
		if d.have != d.want {
			out = append(out, Change{Description: "set default " + d.dir + " policy to " + d.want,
				Args: []string{"default", d.want, d.dir}})
		}
	}
	if !live.Active {
		out = append(out, Change{Description: "enable ufw", Args: []string{"--force", "enable"}})
	}
	return out
}
