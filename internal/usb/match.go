package usb

import (
	"maps"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
)

// AnnotationPrefix is the prefix of the annotations Match derives from a
// rule: <prefix><rule>-device and <prefix><rule>-description.
const AnnotationPrefix = "nodeagent.dev/"

// Result is what the plugged devices mean for the node.
type Result struct {
	// Labels and Annotations are what the node should carry for its USB
	// devices; nodeagent owns exactly these keys.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// Matches lists which device matched which rule, in rule order.
	Matches []RuleMatch `json:"matches,omitempty"`
	// EventAt is when the Watcher saw the first event of the burst that led
	// to this result, on its clock: the start of a hotplug-to-label
	// latency. It is zero for the state at start and for a resync, and
	// Equal ignores it.
	EventAt time.Time `json:"-"`
}

// RuleMatch records that a device satisfied one entry of a rule.
type RuleMatch struct {
	Rule string `json:"rule"`
	// Description is that of the catalog entry, else the device's product.
	Description string `json:"description"`
	Device      Device `json:"device"`
}

// DeviceAnnotation is the annotation naming the path of the devices that
// matched rule, e.g. nodeagent.dev/zigbee-device. With two dongles it lists
// both, comma-separated, in sysfs name order like the description.
func DeviceAnnotation(rule string) string { return AnnotationPrefix + rule + "-device" }

// DescriptionAnnotation names what matched rule, e.g. "Sonoff ZBDongle-P".
func DescriptionAnnotation(rule string) string { return AnnotationPrefix + rule + "-description" }

// Match decides which rules the devices satisfy. It is pure. A device may
// satisfy several rules; within a rule it counts once, under the first entry
// it matches. When two rules set the same label key, the earlier rule wins so
// the answer does not depend on map order.
func Match(devices []Device, rules []config.USBRule) Result {
	res := Result{Labels: map[string]string{}, Annotations: map[string]string{}}
	for _, rule := range rules {
		matched := matchRule(devices, rule)
		if len(matched) == 0 {
			continue
		}
		res.Matches = append(res.Matches, matched...)
		addMissing(res.Labels, rule.Labels)
		addMissing(res.Annotations, rule.Annotations)
		addMissing(res.Annotations, ruleAnnotations(rule.Name, matched))
	}
	return res
}

func matchRule(devices []Device, rule config.USBRule) []RuleMatch {
	var out []RuleMatch
	for _, d := range devices {
		for _, m := range rule.Match {
			if !Matches(d, m) {
				continue
			}
			desc := m.Description
			if desc == "" {
				desc = d.Product
			}
			out = append(out, RuleMatch{Rule: rule.Name, Description: desc, Device: d})
			break
		}
	}
	// Sysfs name order keeps the annotations stable whatever order the
	// caller listed the devices in.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Device.Name < out[j].Device.Name })
	return out
}

// ruleAnnotations tells Home Assistant and people where the device is.
func ruleAnnotations(rule string, matched []RuleMatch) map[string]string {
	var paths, descs []string
	for _, m := range matched {
		if p := m.Device.Path(); p != "" {
			paths = append(paths, p)
		}
		descs = append(descs, m.Description)
	}
	out := map[string]string{DescriptionAnnotation(rule): strings.Join(descs, "; ")}
	if len(paths) > 0 {
		out[DeviceAnnotation(rule)] = strings.Join(paths, ",")
	}
	return out
}

func addMissing(dst, src map[string]string) {
	for k, v := range src {
		if _, ok := dst[k]; !ok {
			dst[k] = v
		}
	}
}

// Matches reports whether d is the device m describes: ids equal (hex, any
// case) and every non-empty glob matching its string, case-insensitively
// because vendors are inconsistent ("ITead" vs "ITEAD").
func Matches(d Device, m config.USBMatch) bool {
	if !strings.EqualFold(d.VendorID, m.VendorID) || !strings.EqualFold(d.ProductID, m.ProductID) {
		return false
	}
	return globMatch(m.Manufacturer, d.Manufacturer) &&
		globMatch(m.Product, d.Product) &&
		globMatch(m.Serial, d.Serial)
}

// globMatch matches a shell glob; "" matches anything. path.Match keeps "*"
// from crossing "/", which product strings may contain, so "/" is swapped
// for a byte that never appears in sysfs strings.
func globMatch(glob, s string) bool {
	if glob == "" {
		return true
	}
	r := strings.NewReplacer("/", "\x00")
	ok, err := path.Match(r.Replace(strings.ToLower(glob)), r.Replace(strings.ToLower(s)))
	return err == nil && ok
}

// Equal reports whether two results label the node the same way and name the
// same devices at the same paths. Bus and device numbers are left out: they
// change on every re-plug without meaning anything for the node.
func (r Result) Equal(o Result) bool {
	if !maps.Equal(r.Labels, o.Labels) || !maps.Equal(r.Annotations, o.Annotations) || len(r.Matches) != len(o.Matches) {
		return false
	}
	for i := range r.Matches {
		a, b := r.Matches[i], o.Matches[i]
		if a.Rule != b.Rule || a.Device.Name != b.Device.Name || a.Device.ID() != b.Device.ID() ||
			a.Device.Path() != b.Device.Path() || a.Device.Serial != b.Device.Serial {
			return false
		}
	}
	return true
}
