package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// heartbeater is the node's KeepAliveThread: it registers with a registry,
// then heartbeats every interval. When the registry it uses does not
// answer (the master may be mid-upgrade) it tries the others in turn; when
// a registry says the node is not registered (its row is gone), it
// registers again. Failures are logged when they change and never end the
// node.
type heartbeater struct {
	ip, version string
	env         []string // TARS_REGISTRY_ADDRESS
	interval    time.Duration
	once        bool // FAKE_NO_HEARTBEAT: register, then stay silent

	regs []string // the locator's addresses and env's, deduplicated
	cur  int      // index in regs of the registry that answered last
}

// setRegistries sets the locator's addresses (and TARS_REGISTRY_ADDRESS's),
// keeping the current registry current when it is still among them.
func (h *heartbeater) setRegistries(locator []string) {
	var cur string
	if h.cur < len(h.regs) {
		cur = h.regs[h.cur]
	}
	var regs []string
	for _, a := range append(slices.Clone(locator), h.env...) {
		if !slices.Contains(regs, a) {
			regs = append(regs, a)
		}
	}
	h.regs, h.cur = regs, max(0, slices.Index(regs, cur))
}

// run registers and heartbeats until ctx ends.
func (h *heartbeater) run(ctx context.Context) {
	registered := false
	last := ""
	for {
		msg := ""
		if err := h.beat(ctx, &registered); err != nil {
			msg = err.Error()
		}
		if ctx.Err() != nil {
			return
		}
		if msg != last {
			if msg == "" {
				log.Printf("heartbeats to %s work", h.regs[h.cur])
			} else {
				log.Printf("heartbeat: %s", msg)
			}
			last = msg
		}
		if registered && h.once {
			log.Printf("FAKE_NO_HEARTBEAT=true: registered once, sending no heartbeats")
			return
		}
		if err := sleep(ctx, h.interval); err != nil {
			return
		}
	}
}

// beat registers when not registered, and heartbeats otherwise.
func (h *heartbeater) beat(ctx context.Context, registered *bool) error {
	if len(h.regs) == 0 {
		return errors.New("no registry: the installer named none and TARS_REGISTRY_ADDRESS is empty")
	}
	if *registered {
		err := h.send(ctx, "/registry/keepalive?ip="+url.QueryEscape(h.ip))
		var st *httpStatus
		if !errors.As(err, &st) || st.code != http.StatusNotFound {
			return err
		}
		log.Printf("registry %s: %v: registering again", h.regs[h.cur], err)
		*registered = false
	}
	err := h.send(ctx, "/registry/register?ip="+url.QueryEscape(h.ip)+"&version="+url.QueryEscape(h.version))
	if err != nil {
		return err
	}
	*registered = true
	log.Printf("registered as %s with registry %s", h.ip, h.regs[h.cur])
	return nil
}

// send POSTs path to the current registry, then to each other one until
// one answers; a 404 is an answer. A 200's locator updates the list.
func (h *heartbeater) send(ctx context.Context, path string) error {
	var errs []string
	for i := range h.regs {
		j := (h.cur + i) % len(h.regs)
		body, err := httpDo(ctx, http.MethodPost, "http://"+h.regs[j]+path)
		var st *httpStatus
		if err == nil || (errors.As(err, &st) && st.code == http.StatusNotFound) {
			if j != h.cur {
				log.Printf("registry %s did not answer (%s): using %s", h.regs[h.cur], errs[0], h.regs[j])
			}
			h.cur = j
			if err == nil {
				if l := parseLocator(locatorLine(string(body))); len(l) > 0 {
					h.setRegistries(l)
				}
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, err.Error())
	}
	return fmt.Errorf("no registry answered: %s", strings.Join(errs, "; "))
}
