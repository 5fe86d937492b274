package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCommand writes the manual pages the package ships, generated from
// the commands' own help so the two never disagree. Each page is titled by
// its command (NODEAGENT-JOIN(1)); SOURCE_DATE_EPOCH dates them, for a
// reproducible package (the build takes the last commit's date).
func newManCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write nodeagent's manual pages (section 1) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			date, err := sourceDate()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			// Shell completion scripts are generated, not read: the package
			// installs bash's; pages about them are noise in `man -k`.
			for _, c := range root.Commands() {
				if c.Name() == "completion" {
					c.Hidden = true
				}
			}
			// An empty Title makes cobra title each page by its command.
			header := &doc.GenManHeader{Section: "1", Date: &date, Source: "nodeagent " + version, Manual: "nodeagent manual"}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("writing manual pages: %w", err)
			}
			return nil
		},
	}
}

// sourceDate is SOURCE_DATE_EPOCH, which a package build must set.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH is not set: the manual pages' date would be the build's")
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970, after 1970", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}
