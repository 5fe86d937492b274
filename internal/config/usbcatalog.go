package config

// ZigbeeRule is the name of the built-in rule for Zigbee coordinators.
const ZigbeeRule = "zigbee"

// builtinUSBRules is the catalog of known Zigbee coordinators. Several share
// their USB ids with plain USB-serial cables (10c4:ea60 CP210x, 1a86:55d4
// CH9102, 0403:6015 FTDI), so those entries also match the strings the
// device reports; a bare id match on them would label a node that only has a
// serial cable.
func builtinUSBRules() []USBRule {
	return []USBRule{{
		Name:   ZigbeeRule,
		Labels: map[string]string{"zigbee": "true"},
		Match: []USBMatch{
			{Description: "Sonoff ZBDongle-P (CC2652P)", VendorID: "10c4", ProductID: "ea60", Product: "*Sonoff Zigbee 3.0 USB Dongle Plus*"},
			{Description: "Sonoff ZBDongle-E (EFR32MG21)", VendorID: "1a86", ProductID: "55d4", Product: "*Sonoff Zigbee 3.0 USB Dongle Plus V2*"},
			{Description: "ConBee II", VendorID: "1cf1", ProductID: "0030"},
			{Description: "ConBee III", VendorID: "0403", ProductID: "6015", Product: "*ConBee III*"},
			{Description: "Home Assistant SkyConnect", VendorID: "10c4", ProductID: "ea60", Product: "SkyConnect*"},
			{Description: "Home Assistant Connect ZBT-1", VendorID: "10c4", ProductID: "ea60", Product: "*Connect ZBT-1*"},
			{Description: "Home Assistant Connect ZBT-2", VendorID: "303a", ProductID: "831a", Product: "*ZBT-2*"},
			{Description: "TI CC2531 (Z-Stack)", VendorID: "0451", ProductID: "16a8"},
			{Description: "TI CC2538 (Z-Stack)", VendorID: "0451", ProductID: "16c8"},
			{Description: "SMLIGHT SLZB-07", VendorID: "10c4", ProductID: "ea60", Product: "SLZB-07*"},
		},
	}}
}

// USBRules returns the rules every node matches: the built-in catalog unless
// switched off, with user rules replacing built-in ones of the same name and
// adding the others.
func (c *Cluster) USBRules() []USBRule {
	var rules []USBRule
	if c.USB.BuiltinCatalog == nil || *c.USB.BuiltinCatalog {
		rules = builtinUSBRules()
	}
	for _, r := range c.USB.Rules {
		replaced := false
		for i := range rules {
			if rules[i].Name == r.Name {
				rules[i], replaced = r, true
			}
		}
		if !replaced {
			rules = append(rules, r)
		}
	}
	return rules
}
