package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runNode plays the tarscloud/tars-node entrypoint: it downloads tarsnode from
// the framework's web on every start and only then serves NodeObj on 19385.
func runNode(ctx context.Context, k knobs) error {
	web := strings.TrimRight(os.Getenv("WEB_HOST"), "/")
	if web == "" {
		return errors.New("WEB_HOST is not set: a node needs http://<framework>:3000")
	}
	ip := os.Getenv("DOMAIN")
	if ip == "" {
		ip = os.Getenv("TARS_DOMAIN")
	}
	if ip == "" {
		// The node image reads eth0 only; INET is ignored there (TARS.md).
		ip = interfaceIPv4("eth0")
	}
	if ip == "" {
		return errors.New("eth0 has no IPv4 address and neither DOMAIN nor TARS_DOMAIN is set")
	}
	log.Printf("starting: version=%s ip=%s WEB_HOST=%s", k.version, ip, web)

	for attempt := 0; ; attempt++ {
		err := fetchTarsnode(ctx, web, ip)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt%5 == 0 {
			log.Printf("waiting for the framework web: %v", err)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	log.Printf("registered with %s and downloaded tarsnode", web)
	return serveRole(ctx, k, func(ctx context.Context) error {
		return listenAndDrop(ctx, ":19385")
	})
}

// fetchTarsnode does the two requests the real entrypoint makes and keeps the
// package under /data/tars, where the real node unpacks it.
func fetchTarsnode(ctx context.Context, web, ip string) error {
	if _, err := httpGet(ctx, web+"/get_tarsnode?ip="+url.QueryEscape(ip)); err != nil {
		return err
	}
	body, err := httpGet(ctx, web+"/files/tarsnode.tgz")
	if err != nil {
		return err
	}
	dir := "/data/tars/tarsnode-data"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tarsnode.tgz"), body, 0o644); err != nil {
		return fmt.Errorf("save tarsnode.tgz: %w", err)
	}
	return nil
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, nil
}
