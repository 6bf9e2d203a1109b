//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

// The load tool reads peak RSS and CPU time from /proc: on other systems
// those figures are reported as unavailable.

var errNoProc = errors.New("needs Linux /proc")

func procStatus(int, string) (uint64, error) { return 0, errNoProc }
func resetPeakRSS(int) bool                  { return false }
func procCPU(int) (time.Duration, error)     { return 0, errNoProc }
func selfCPU() time.Duration                 { return 0 }
func childAttr() *syscall.SysProcAttr        { return nil }
func machineBusy() (time.Duration, error)    { return 0, errNoProc }
