//go:build !unix

package main

import "errors"

func noEcho(int) (func(), error) { return nil, errors.New("no terminal echo control on this system") }
