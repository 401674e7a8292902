package teardown

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// checkNetwork refuses a teardown whose Bridge and PodCIDR are not those of
// the pods in the state directory: CNI DEL and the rule cleanup would miss
// them. libcni's cache keeps each attachment's network configuration.
func (t *teardown) checkNetwork() error {
	files, _ := filepath.Glob(filepath.Join(t.cfg.StateDir, "cni", "cache", "results", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		bridge, subnet, ok := cachedNetwork(b)
		if ok && (bridge != t.cfg.Bridge || subnet != t.cfg.PodCIDR) {
			return fmt.Errorf("the pods in %s are on bridge %s with pod CIDR %s, not %s and %s: give --bridge %s --pod-cidr %s",
				t.cfg.StateDir, bridge, subnet, t.cfg.Bridge, t.cfg.PodCIDR, bridge, subnet)
		}
	}
	return nil
}

// cachedNetwork reads the bridge and subnet of a libcni cache entry.
func cachedNetwork(entry []byte) (bridge, subnet string, ok bool) {
	var cached struct {
		Config []byte `json:"config"`
	}
	if json.Unmarshal(entry, &cached) != nil {
		return "", "", false
	}
	var list struct {
		Plugins []struct {
			Type   string `json:"type"`
			Bridge string `json:"bridge"`
			IPAM   struct {
				Ranges [][]struct {
					Subnet string `json:"subnet"`
				} `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if json.Unmarshal(cached.Config, &list) != nil {
		return "", "", false
	}
	for _, p := range list.Plugins {
		if p.Type == "bridge" && len(p.IPAM.Ranges) > 0 && len(p.IPAM.Ranges[0]) > 0 {
			return p.Bridge, p.IPAM.Ranges[0][0].Subnet, true
		}
	}
	return "", "", false
}
