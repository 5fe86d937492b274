package uninstall

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what an Action does.
type Kind string

// The kinds of action, in the order Decide emits them.
const (
	StopDaemon   Kind = "stop-daemon"   // systemctl disable --now nodeagent.service
	StopUnit     Kind = "stop-unit"     // systemctl stop <k3s unit>
	KillTree     Kind = "kill"          // kill -9 a shim and its descendants (Args)
	Unmount      Kind = "unmount"       // umount, then remove the mount point
	DeleteNetNS  Kind = "delete-netns"  // ip netns delete
	DeleteLink   Kind = "delete-link"   // ip link delete
	RestoreRules Kind = "restore-rules" // <family>-restore of the rules without k3s's chains (Args[0])
	UndoFirewall Kind = "undo-firewall" // nodeagent's UFW rules, through internal/firewall
	RemoveMount  Kind = "remove-mount"  // systemctl disable --now <mount unit>, remove the unit file
	RemoveUnit   Kind = "remove-unit"   // systemctl disable, reset-failed, remove unit and .env
	MoveAside    Kind = "move-aside"    // rename Target to Args[0]
	RemoveTree   Kind = "remove-tree"   // remove, never crossing into another filesystem
	RemoveFile   Kind = "remove-file"
	Reload       Kind = "daemon-reload"
)

// Action is one change of the uninstall.
type Action struct {
	Kind   Kind
	Target string
	Args   []string
}

func (a Action) String() string {
	switch a.Kind {
	case StopDaemon:
		return "stop and disable " + a.Target + " (it would install k3s again)"
	case StopUnit:
		return "stop " + a.Target
	case KillTree:
		return "kill the container shim " + a.Target + " and its children (" + strings.Join(a.Args, " ") + ")"
	case Unmount:
		return "unmount " + a.Target
	case DeleteNetNS:
		return "delete network namespace " + a.Target
	case DeleteLink:
		return "delete interface " + a.Target
	case RestoreRules:
		return a.Target + ": drop k3s's KUBE-/CNI-/flannel chains and rules"
	case UndoFirewall:
		return "UFW: delete nodeagent's rules (comments nodeagent:*), put defaults and enabled state back"
	case RemoveMount:
		return "stop and remove mount unit " + a.Target + " (the disk's files stay)"
	case RemoveUnit:
		return "disable and remove " + a.Target
	case MoveAside:
		return "move " + a.Target + " aside to " + a.Args[0]
	case RemoveTree:
		return "remove " + a.Target
	case RemoveFile:
		return "remove " + a.Target
	case Reload:
		return "systemctl daemon-reload"
	}
	return string(a.Kind) + " " + a.Target
}

// Options are the owner's choices.
type Options struct {
	// Purge deletes etcd's data instead of moving it aside.
	Purge bool
	// Now dates the directory etcd's data is moved to.
	Now time.Time
	// Firewall is true when nodeagent's UFW changes are to be undone (ufw
	// installed and nodeagent's record or rules there).
	Firewall bool
	// Extra are nodeagent's own files to remove (the leave marker, the
	// pending restart).
	Extra []string
}

// Plan is the ordered changes, and what stays and why.
type Plan struct {
	Actions []Action
	Left    []string
}

// Decide turns what Observe saw into the uninstall's changes, in
// k3s-killall.sh's order (stop, kill the shims, unmount, netns,
// interfaces, iptables) and then k3s-uninstall.sh's (units, links,
// config and data), with nodeagent's daemon first and its UFW rules and
// mount units in between. An empty Observed gives an empty plan.
func Decide(o Observed, opts Options) Plan {
	var p Plan
	add := func(k Kind, target string, args ...string) {
		p.Actions = append(p.Actions, Action{Kind: k, Target: target, Args: args})
	}
	if o.DaemonUnit {
		add(StopDaemon, DaemonUnit)
	}
	for _, u := range o.K3sUnits {
		add(StopUnit, u)
	}
	for _, shim := range o.Shims {
		add(KillTree, strconv.Itoa(shim), pidStrings(Tree(o.Procs, shim))...)
	}
	unmounted := K3sMounts(o.Mounts)
	for _, m := range unmounted {
		add(Unmount, m)
	}
	for _, ns := range o.NetNS {
		if strings.HasPrefix(ns, "cni-") {
			add(DeleteNetNS, ns)
		}
	}
	for _, l := range K3sLinks(o.Links) {
		add(DeleteLink, l)
	}
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		if rules, ok := o.Rules[save]; ok {
			if kept, dropped := FilterRules(rules); dropped > 0 {
				add(RestoreRules, strings.TrimSuffix(save, "-save"), kept)
			}
		}
	}
	if opts.Firewall {
		add(UndoFirewall, "ufw")
	}
	for _, u := range o.MountUnits {
		add(RemoveMount, u)
	}
	for _, u := range o.K3sUnits {
		add(RemoveUnit, u)
	}
	if len(o.K3sUnits)+len(o.MountUnits) > 0 || o.DaemonUnit {
		add(Reload, "")
	}
	for _, name := range LinkNames {
		if target, ok := o.Symlinks[BinDir+"/"+name]; ok && (target == "k3s" || target == BinDir+"/k3s") {
			add(RemoveFile, BinDir+"/"+name)
		}
	}
	p.decideData(o, opts, unmounted, add)
	return p
}

func (p *Plan) decideData(o Observed, opts Options, unmounted []string, add func(Kind, string, ...string)) {
	if o.Present[EtcdDataDir] {
		if opts.Purge {
			p.Left = append(p.Left, "--purge: etcd's data "+EtcdDataDir+" is deleted with "+DataDir)
		} else {
			add(MoveAside, EtcdDataDir, AsideDir+opts.Now.UTC().Format("20060102T150405Z"))
		}
	}
	for _, t := range Trees {
		if !o.Present[t] {
			continue
		}
		add(RemoveTree, t)
		for _, m := range o.Mounts {
			if under(m, t) && m != t && !slices.Contains(unmounted, m) {
				p.Left = append(p.Left, fmt.Sprintf("%s: another filesystem is mounted there; it and what is on it stay", m))
			}
		}
	}
	for _, f := range append(slices.Clone(Files), opts.Extra...) {
		if o.Present[f] {
			add(RemoveFile, f)
		}
	}
}

// K3sMounts are the mount points k3s-killall.sh unmounts, deepest first.
func K3sMounts(mounts []string) []string {
	var out []string
	for _, m := range mounts {
		for _, prefix := range MountPrefixes {
			if strings.HasPrefix(m, prefix) && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// K3sLinks are the interfaces to delete: the veths enslaved to cni0
// first, then cni0, flannel's and kube-proxy's own.
func K3sLinks(links []Link) []string {
	var out []string
	for _, l := range links {
		if l.Master == "cni0" {
			out = append(out, l.Name)
		}
	}
	for _, name := range Interfaces {
		if slices.ContainsFunc(links, func(l Link) bool { return l.Name == name }) {
			out = append(out, name)
		}
	}
	return out
}

// Tree is pid and its descendants, parents before children.
func Tree(procs map[int]int, pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		var kids []int
		for child, parent := range procs {
			if parent == out[i] && child != out[i] {
				kids = append(kids, child)
			}
		}
		slices.Sort(kids)
		out = append(out, kids...)
	}
	return out
}

func pidStrings(pids []int) []string {
	out := make([]string, len(pids))
	for i, p := range pids {
		out[i] = strconv.Itoa(p)
	}
	return out
}

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}
