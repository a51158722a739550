package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// runHook is `tarsfake hook FILE [exit=N] [sleep=DUR]`, a hook exec'd in
// a fake Tars container (the images have no shell): it prints its
// environment, one variable a line (as env does: what a careless hook
// would log), appends one line to FILE naming the version of the image it
// runs in and its TARSUP_* variables, then sleeps DUR and exits N.
func runHook(ctx context.Context, args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("hook needs a FILE: %w", errUsage)
	}
	code, pause := 0, time.Duration(0)
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		var err error
		switch k {
		case "exit":
			code, err = strconv.Atoi(v)
		case "sleep":
			pause, err = time.ParseDuration(v)
		default:
			err = fmt.Errorf("unknown argument %q", a)
		}
		if err != nil {
			return fmt.Errorf("hook %s: %v: %w", a, err, errUsage)
		}
	}
	env := os.Environ()
	sort.Strings(env)
	var tarsup []string
	for _, kv := range env {
		fmt.Println(kv)
		if strings.HasPrefix(kv, "TARSUP_") {
			tarsup = append(tarsup, kv)
		}
	}
	line := fmt.Sprintf("version=%s %s\n", os.Getenv("FAKE_VERSION"), strings.Join(tarsup, " "))
	f, err := os.OpenFile(args[0], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("hook: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	if err := sleep(ctx, pause); err != nil {
		return err
	}
	if code != 0 {
		fmt.Printf("hook: exiting %d as asked\n", code)
		os.Exit(code)
	}
	return nil
}
