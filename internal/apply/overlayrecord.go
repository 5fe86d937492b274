package apply

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Every server has its own overlay directory, and they may differ for a
// while: a manifest copied to one Pi only, a Pi re-flashed without its
// directory. Whichever server holds the apply lease applies its own overlay,
// but the inventory is shared, so pruning "what this server does not render"
// made servers delete each other's overlay objects and re-create them on
// every resync (issue #22: a PVC was deleted this way).
//
// So each server records, in the inventory ConfigMap (one data key per
// server, written with the inventory under the same resourceVersion), the
// keys of the overlay objects it last applied. The union of these records
// is the cluster's overlay: an object in any server's record is never
// pruned, and an overlay object is pruned only once every server the
// cluster file names has recorded an overlay without it. Deleting a file
// from every server's directory thus prunes its objects after each server
// has held the lease once since; copying it to one Pi only protects it from
// all the others. A server taken out of the cluster file no longer counts,
// and its record is dropped.

const (
	overlayKeyPrefix = "overlay."
	overlayKeySuffix = ".json"
)

// Source tells where an inventory entry came from.
const (
	SourceBuiltin = "builtin"
	SourceOverlay = "overlay"
)

// overlayDataKey is the ConfigMap data key of server's record.
func overlayDataKey(server string) string {
	return overlayKeyPrefix + server + overlayKeySuffix
}

// overlayServer returns the server whose record the data key holds.
func overlayServer(dataKey string) (string, bool) {
	if !strings.HasPrefix(dataKey, overlayKeyPrefix) || !strings.HasSuffix(dataKey, overlayKeySuffix) {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(dataKey, overlayKeyPrefix), overlayKeySuffix), true
}

func decodeOverlayRecord(raw string) (map[objKey]bool, error) {
	var list []objKey
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, err
	}
	keys := make(map[objKey]bool, len(list))
	for _, k := range list {
		keys[k] = true
	}
	return keys, nil
}

// encodeOverlayRecord lists the keys sorted, one per line, for a stable diff.
func encodeOverlayRecord(keys map[objKey]bool) string {
	list := make([]objKey, 0, len(keys))
	for k := range keys {
		list = append(list, k)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].String() < list[j].String() })
	return string(jsonLines(list))
}

// recordOverlay sets server's record to keys and drops the records of
// servers no longer in the cluster (servers empty: keep them all).
func (inv *inventory) recordOverlay(server string, keys map[objKey]bool, servers []string) {
	inv.overlays[server] = keys
	if len(servers) == 0 {
		return
	}
	known := map[string]bool{server: true}
	for _, s := range servers {
		known[s] = true
	}
	for s := range inv.overlays {
		if !known[s] {
			delete(inv.overlays, s)
		}
	}
}

// overlayHolders returns the servers whose record holds k, sorted.
func (inv *inventory) overlayHolders(k objKey) []string {
	var out []string
	for s, keys := range inv.overlays {
		if keys[k] {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// unrecorded returns the servers of servers that have no record yet.
func (inv *inventory) unrecorded(servers []string) []string {
	var out []string
	for _, s := range servers {
		if _, ok := inv.overlays[s]; !ok {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func (k objKey) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", k.Group, k.Kind, k.Namespace, k.Name)
}
