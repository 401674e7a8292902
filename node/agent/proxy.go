package agent

import (
	"context"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/node/services"
	"github.com/wake-run/wake/projections"
)

// onServicesTouched wakes the service proxy's loop after a commit of the
// services projection. It never blocks.
func (a *Agent) onServicesTouched(_ []events.Ref, _ uint64) {
	select {
	case a.servicesChanged <- struct{}{}:
	default:
	}
}

// runProxy programs the node's service rules from the services projection:
// at once, after every change, and every ProxySyncPeriod (so a deleted rule
// or table comes back). A failed sync is retried within a second. On return
// the nftables rules stay (the pods keep reaching their Services while the
// agent restarts); the userspace proxy's listeners close.
func (a *Agent) runProxy(ctx context.Context) {
	defer a.proxy.Close()
	tick := time.NewTicker(a.cfg.ProxySyncPeriod)
	defer tick.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.servicesChanged:
		case <-tick.C:
		case <-retry.C:
		}
		var st *services.State
		err := a.services.View(func(rd projections.Reader, _ uint64) error {
			var err error
			st, err = services.Read(rd)
			return err
		})
		if err == nil {
			err = a.proxy.Sync(ctx, st)
		}
		if err != nil && ctx.Err() == nil {
			if !failing {
				a.logger.Warn("service proxy", "err", err)
			}
			failing = true
			retry.Reset(time.Second)
			continue
		}
		if failing {
			a.logger.Info("service proxy synced again")
		}
		failing = false
	}
}
