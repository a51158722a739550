package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/tarsup/tarsup/refresh"
)

// Notify POSTs the report to url with client, within NotifyTimeout. It runs
// even while shutting down (ctx cancelled): the run it reports has happened.
func Notify(ctx context.Context, client *http.Client, url string, rep refresh.Report) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("notify %s: encode the report: %w", url, err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), NotifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tarsup")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("notify %s: %w (check --notify-url and that the receiver is up)", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify %s: the receiver answered %s", url, resp.Status)
	}
	return nil
}
