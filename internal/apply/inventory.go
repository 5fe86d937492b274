package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// inventoryKey is the ConfigMap data key holding the JSON entry list.
const inventoryKey = "objects.json"

// Entry is one object nodeagent created. The UID makes sure prune deletes
// that very object and not one a person created later under the same name.
type Entry struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	// Source is SourceBuiltin or SourceOverlay; entries written before
	// it was recorded count as overlay, the cautious side.
	Source string `json:"source,omitempty"`
}

func (en Entry) fromOverlay() bool { return en.Source != SourceBuiltin }

func (en Entry) key() objKey {
	group, _, _ := splitAPIVersion(en.APIVersion)
	return objKey{Group: group, Kind: en.Kind, Namespace: en.Namespace, Name: en.Name}
}

func (en Entry) String() string { return en.Kind + "/" + en.Namespace + "/" + en.Name }

// inventory is the loaded list and overlay records plus the ConfigMap's
// resourceVersion, so two writers cannot silently overwrite each other.
type inventory struct {
	entries map[objKey]Entry
	// overlays is each server's overlay record (see overlayrecord.go).
	overlays        map[string]map[objKey]bool
	resourceVersion string
	loaded          map[string]string // the ConfigMap's data as read
}

func (e *Engine) loadInventory(ctx context.Context) (*inventory, error) {
	ref := e.opts.Inventory
	cm, err := e.cs.CoreV1().ConfigMaps(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &inventory{entries: map[objKey]Entry{}, overlays: map[string]map[objKey]bool{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading inventory %s: %w", ref, err)
	}
	inv, err := decodeInventory([]byte(cm.Data[inventoryKey]))
	if err != nil {
		return nil, fmt.Errorf("reading inventory %s: %w", ref, err)
	}
	for dataKey, raw := range cm.Data {
		server, ok := overlayServer(dataKey)
		if !ok {
			continue
		}
		if inv.overlays[server], err = decodeOverlayRecord(raw); err != nil {
			return nil, fmt.Errorf("reading inventory %s: decoding %s: %w", ref, dataKey, err)
		}
	}
	inv.resourceVersion = cm.ResourceVersion
	inv.loaded = cm.Data
	return inv, nil
}

func decodeInventory(raw []byte) (*inventory, error) {
	inv := &inventory{entries: map[objKey]Entry{}, overlays: map[string]map[objKey]bool{}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return inv, nil
	}
	var list []Entry
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", inventoryKey, err)
	}
	for _, en := range list {
		inv.entries[en.key()] = en
	}
	return inv, nil
}

// encode lists the entries sorted, one per line, for a stable diff.
func (inv *inventory) encode() []byte {
	list := make([]Entry, 0, len(inv.entries))
	for _, en := range inv.entries {
		list = append(list, en)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].String()+list[i].APIVersion < list[j].String()+list[j].APIVersion })
	return jsonLines(list)
}

// jsonLines encodes a sorted list as a JSON array with one element per
// line, so that a change of the ConfigMap shows as a readable diff.
func jsonLines[T any](list []T) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, v := range list {
		line, _ := json.Marshal(v) // plain strings: cannot fail
		b.Write(line)
		if i < len(list)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// update records the run: objects nodeagent created are added (or their UID
// refreshed); an entry whose object now has another UID was recreated by
// someone else and is dropped (prune already dropped what it resolved).
// Objects nodeagent configured but did not create are never added. Each
// applied entry's source is set from overlay, the keys of the overlay.
func (inv *inventory) update(r *Report, overlay map[objKey]bool) *inventory {
	for _, res := range r.Results {
		k := objKey{Group: res.GVK.Group, Kind: res.GVK.Kind, Namespace: res.Namespace, Name: res.Name}
		old, listed := inv.entries[k]
		source := SourceBuiltin
		if overlay[k] {
			source = SourceOverlay
		}
		switch {
		case res.Outcome == Created:
			inv.entries[k] = Entry{APIVersion: res.GVK.GroupVersion().String(), Kind: res.GVK.Kind,
				Namespace: res.Namespace, Name: res.Name, UID: res.UID, Source: source}
		case listed && applied(res.Outcome) && old.UID != res.UID:
			delete(inv.entries, k)
		case listed && applied(res.Outcome):
			old.APIVersion, old.Source = res.GVK.GroupVersion().String(), source
			inv.entries[k] = old
		}
	}
	return inv
}

// data is the ConfigMap's data: the entries and every overlay record.
func (inv *inventory) data() map[string]string {
	data := map[string]string{inventoryKey: string(inv.encode())}
	for server, keys := range inv.overlays {
		data[overlayDataKey(server)] = encodeOverlayRecord(keys)
	}
	return data
}

// saveInventory writes the ConfigMap only when its content changed, so a
// no-op run writes nothing.
func (e *Engine) saveInventory(ctx context.Context, inv *inventory) error {
	data := inv.data()
	if maps.Equal(data, inv.loaded) || (len(inv.entries) == 0 && inv.resourceVersion == "" && !inv.anyOverlay()) {
		return nil
	}
	ref := e.opts.Inventory
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: ref.Name, Namespace: ref.Namespace, ResourceVersion: inv.resourceVersion,
			Labels: map[string]string{LabelManagedBy: ManagedBy},
		},
		Data: data,
	}
	client := e.cs.CoreV1().ConfigMaps(ref.Namespace)
	var err error
	if inv.resourceVersion == "" {
		_, err = client.Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
	} else {
		_, err = client.Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
	}
	if err != nil {
		return fmt.Errorf("writing inventory %s: %w", ref, err)
	}
	return nil
}

// anyOverlay reports whether some server's record holds an object.
func (inv *inventory) anyOverlay() bool {
	for _, keys := range inv.overlays {
		if len(keys) > 0 {
			return true
		}
	}
	return false
}

func splitAPIVersion(apiVersion string) (group, version string, ok bool) {
	for i := len(apiVersion) - 1; i >= 0; i-- {
		if apiVersion[i] == '/' {
			return apiVersion[:i], apiVersion[i+1:], true
		}
	}
	return "", apiVersion, apiVersion != ""
}
