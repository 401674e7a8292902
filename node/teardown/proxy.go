package teardown

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ProxyFile is the record, in an agent's state directory, of the service
// proxy's table and route, so that a teardown (which does not know the
// node's name) removes them.
const ProxyFile = "proxy.json"

// ProxyRecord names what the service proxy put on the host.
type ProxyRecord struct {
	// Table is the nftables table (family ip) of the node's service rules.
	Table string `json:"table,omitempty"`
	// Route is the service CIDR routed over Bridge for the host to reach
	// service addresses, "" when the proxy added none.
	Route  string `json:"route,omitempty"`
	Bridge string `json:"bridge,omitempty"`
}

// RecordProxy writes stateDir/proxy.json before the proxy changes the host.
func RecordProxy(stateDir string, rec ProxyRecord) error {
	b, _ := json.Marshal(rec)
	path := filepath.Join(stateDir, ProxyFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b)+"\n" {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("record the service proxy's table: %w", err)
	}
	return os.Rename(tmp, path)
}

// removeProxy deletes the service proxy's table and route.
func (t *teardown) removeProxy(ctx context.Context) error {
	b, err := os.ReadFile(filepath.Join(t.cfg.StateDir, ProxyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var rec ProxyRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(t.cfg.StateDir, ProxyFile), err)
	}
	var errs []error
	if rec.Table != "" {
		if _, err := exec.LookPath("nft"); err == nil {
			if out, err := exec.CommandContext(ctx, "nft", "list", "table", "ip", rec.Table).CombinedOutput(); err == nil {
				if out, err := exec.CommandContext(ctx, "nft", "delete", "table", "ip", rec.Table).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("nft delete table ip %s: %v: %s", rec.Table, err, strings.TrimSpace(string(out))))
				} else {
					t.say("nftables table ip %s of the service proxy deleted", rec.Table)
				}
			} else if !strings.Contains(string(out), "No such file") {
				errs = append(errs, fmt.Errorf("nft list table ip %s: %v: %s", rec.Table, err, strings.TrimSpace(string(out))))
			}
		}
	}
	if rec.Route != "" && rec.Bridge != "" {
		if out, _ := exec.CommandContext(ctx, "ip", "-4", "route", "show", rec.Route, "dev", rec.Bridge).Output(); len(strings.TrimSpace(string(out))) > 0 {
			if out, err := exec.CommandContext(ctx, "ip", "route", "del", rec.Route, "dev", rec.Bridge).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("ip route del %s dev %s: %v: %s", rec.Route, rec.Bridge, err, strings.TrimSpace(string(out))))
			} else {
				t.say("route to services %s over %s deleted", rec.Route, rec.Bridge)
			}
		}
	}
	if len(errs) == 0 {
		os.Remove(filepath.Join(t.cfg.StateDir, ProxyFile))
	}
	return errors.Join(errs...)
}
