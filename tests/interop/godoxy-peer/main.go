// Copyright (c) 2026 The flowgate authors
//
// Permission to use, copy, modify, and distribute this software for any
// purpose with or without fee is hereby granted, provided that the above
// copyright notice and this permission notice appear in all copies.
//
// THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
// WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
// MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
// ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
// WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
// ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
// OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.

// godoxy-peer is a test peer for flowgate's interoperability suite.  It
// plays either end of GoDoxy's agent stream protocol on the stacks GoDoxy
// itself runs on, Go's crypto/tls and pion/dtls, configured as
// shared/spec/godoxy-stream.md describes them: ALPN godoxy-agent-stream/1,
// mTLS, the 275-byte header, DTLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256,
// extended master secret required and HelloVerifyRequest cookies.  It is
// written from that description, not from GoDoxy's code.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pion/dtls/v2"
)

const (
	headerSize = 275
	alpn       = "godoxy-agent-stream/1"
	flagHealth = 0x01
)

var version = [8]byte{'0', '.', '1', '.', '0'}

// header builds the request header for host:port, or a health check.
func header(host, port string, health bool) []byte {
	b := make([]byte, headerSize)
	copy(b[0:8], version[:])
	if !health {
		b[8] = byte(len(host))
		copy(b[9:264], host)
		b[264] = byte(len(port))
		copy(b[265:270], port)
	} else {
		b[270] = flagHealth
	}
	binary.BigEndian.PutUint32(b[271:], crc32.ChecksumIEEE(b[:271]))
	return b
}

// parse checks a header as GoDoxy's receiver does: version, port length,
// big-endian CRC-32 over bytes 0..270.
func parse(b []byte) (host, port string, health bool, err error) {
	if !bytes.Equal(b[0:8], version[:]) {
		return "", "", false, errors.New("bad version")
	}
	if b[264] > 5 {
		return "", "", false, errors.New("port length over 5")
	}
	if binary.BigEndian.Uint32(b[271:]) != crc32.ChecksumIEEE(b[:271]) {
		return "", "", false, errors.New("checksum mismatch")
	}
	host = string(b[9 : 9+int(b[8])])
	port = string(b[265 : 265+int(b[264])])
	return host, port, b[270]&flagHealth != 0, nil
}

type certs struct {
	pair tls.Certificate
	pool *x509.CertPool
}

func load(ca, cert, key string) certs {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		fatal("load %s: %v", cert, err)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		fatal("read %s: %v", ca, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fatal("no certificate in %s", ca)
	}
	return certs{pair, pool}
}

func fatal(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "godoxy-peer: "+format+"\n", a...)
	os.Exit(1)
}

func dtlsConfig(c certs, server bool) *dtls.Config {
	cfg := &dtls.Config{
		Certificates:         []tls.Certificate{c.pair},
		CipherSuites:         []dtls.CipherSuiteID{dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		ExtendedMasterSecret: dtls.RequireExtendedMasterSecret,
	}
	if server {
		cfg.ClientCAs = c.pool
		cfg.ClientAuth = dtls.RequireAndVerifyClientCert
	} else {
		cfg.RootCAs = c.pool
		cfg.ServerName = "godoxy.agent"
	}
	return cfg
}

// serveTCP is the agent's TLS side: ALPN stream only (as GoDoxy's
// standalone stream server), header within 10 s, dial, relay.
func serveTCP(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, headerSize)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, buf); err != nil {
				fmt.Fprintf(os.Stderr, "tcp: header: %v\n", err)
				return
			}
			c.SetReadDeadline(time.Time{})
			host, port, health, err := parse(buf)
			if err != nil {
				fmt.Fprintf(os.Stderr, "tcp: invalid header: %v\n", err)
				return
			}
			if health {
				fmt.Fprintf(os.Stderr, "tcp: health check received\n")
				return
			}
			up, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 10*time.Second)
			if err != nil {
				fmt.Fprintf(os.Stderr, "tcp: dial: %v\n", err)
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			// Like GoDoxy: an EOF stops one direction only, and
			// the tunnel ends when both have ended.
			go func() { io.Copy(up, c); done <- struct{}{} }()
			go func() { io.Copy(c, up); done <- struct{}{} }()
			<-done
			<-done
		}(conn)
	}
}

// serveUDP is the agent's DTLS side: the header alone in the first record,
// then one datagram per record each way through a connected UDP socket.
func serveUDP(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, headerSize)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, buf); err != nil {
				fmt.Fprintf(os.Stderr, "udp: header: %v\n", err)
				return
			}
			c.SetReadDeadline(time.Time{})
			host, port, health, err := parse(buf)
			if err != nil {
				fmt.Fprintf(os.Stderr, "udp: invalid header: %v\n", err)
				return
			}
			if health {
				fmt.Fprintf(os.Stderr, "udp: health check received\n")
				return
			}
			up, err := net.Dial("udp", net.JoinHostPort(host, port))
			if err != nil {
				return
			}
			defer up.Close()
			go func() {
				b := make([]byte, 65536)
				for {
					n, err := up.Read(b)
					if err != nil {
						return
					}
					if _, err := c.Write(b[:n]); err != nil {
						return
					}
				}
			}()
			b := make([]byte, 8192) // pion reads 8192-byte datagrams
			for {
				n, err := c.Read(b)
				if err != nil {
					return
				}
				if _, err := up.Write(b[:n]); err != nil {
					return
				}
			}
		}(conn)
	}
}

func server(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	tcpAddr := fs.String("tcp", "127.0.0.1:0", "TLS listen address")
	udpAddr := fs.String("udp", "127.0.0.1:0", "DTLS listen address")
	ca := fs.String("ca", "ca.crt", "CA")
	cert := fs.String("cert", "server.crt", "certificate")
	key := fs.String("key", "server.key", "key")
	portfile := fs.String("portfile", "", "write \"TCPPORT UDPPORT\" here")
	fs.Parse(args)
	c := load(*ca, *cert, *key)
	tln, err := tls.Listen("tcp", *tcpAddr, &tls.Config{
		Certificates: []tls.Certificate{c.pair},
		ClientCAs:    c.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{alpn},
	})
	if err != nil {
		fatal("tls listen: %v", err)
	}
	ua, err := net.ResolveUDPAddr("udp", *udpAddr)
	if err != nil {
		fatal("%v", err)
	}
	uln, err := dtls.Listen("udp", ua, dtlsConfig(c, true))
	if err != nil {
		fatal("dtls listen: %v", err)
	}
	if *portfile != "" {
		s := fmt.Sprintf("%d %d\n", tln.Addr().(*net.TCPAddr).Port,
			uln.Addr().(*net.UDPAddr).Port)
		if err := os.WriteFile(*portfile+".tmp", []byte(s), 0644); err != nil {
			fatal("%v", err)
		}
		os.Rename(*portfile+".tmp", *portfile)
	}
	go serveTCP(tln)
	serveUDP(uln)
}

// client runs one of the GoDoxy server side's calls against an agent.
func client(mode string, args []string) {
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	addr := fs.String("addr", "", "agent address host:port")
	dest := fs.String("dest", "", "destination host:port for the header")
	ca := fs.String("ca", "ca.crt", "CA")
	cert := fs.String("cert", "client.crt", "certificate")
	key := fs.String("key", "client.key", "key")
	msg := fs.String("msg", "hello from go", "message to echo")
	size := fs.Int("size", 0, "if set, echo datagrams of this many bytes")
	n := fs.Int("n", 5, "datagrams to echo (udp)")
	fs.Parse(args)
	c := load(*ca, *cert, *key)
	var conn net.Conn
	var err error
	if mode == "tcp-echo" || mode == "tcp-health" {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", *addr, &tls.Config{
			Certificates: []tls.Certificate{c.pair},
			RootCAs:      c.pool,
			ServerName:   "godoxy.agent",
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{alpn},
		})
	} else {
		var ua *net.UDPAddr
		if ua, err = net.ResolveUDPAddr("udp", *addr); err == nil {
			conn, err = dtls.Dial("udp", ua, dtlsConfig(c, false))
		}
	}
	if err != nil {
		fatal("%s: connect: %v", mode, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if mode == "tcp-health" || mode == "udp-health" {
		if _, err := conn.Write(header("", "", true)); err != nil {
			fatal("%s: write: %v", mode, err)
		}
		b := make([]byte, 64)
		if k, err := conn.Read(b); err != io.EOF {
			fatal("%s: want close_notify, got %d bytes, %v", mode, k, err)
		}
		fmt.Println("OK health")
		return
	}
	host, port, err := net.SplitHostPort(*dest)
	if err != nil {
		fatal("%v", err)
	}
	if _, err := conn.Write(header(host, port, false)); err != nil {
		fatal("%s: header: %v", mode, err)
	}
	count := 1
	if mode == "udp-echo" {
		count = *n
	}
	for i := 0; i < count; i++ {
		want := []byte(*msg + " " + strconv.Itoa(i))
		if *size > 0 {
			want = bytes.Repeat([]byte{byte('a' + i%26)}, *size)
		}
		if _, err := conn.Write(want); err != nil {
			fatal("%s: write: %v", mode, err)
		}
		got := make([]byte, len(want)+16)
		k := 0
		if mode == "tcp-echo" {
			k, err = io.ReadFull(conn, got[:len(want)])
		} else {
			k, err = conn.Read(got)
		}
		if err != nil || !bytes.Equal(got[:k], want) {
			fatal("%s: echo %d: got %d bytes, %v", mode, i, k, err)
		}
	}
	fmt.Printf("OK %s %d\n", mode, count)
}

func main() {
	if len(os.Args) < 2 {
		fatal("usage: godoxy-peer server|tcp-echo|udp-echo|tcp-health|udp-health [flags]")
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "tcp-echo", "udp-echo", "tcp-health", "udp-health":
		client(os.Args[1], os.Args[2:])
	default:
		fatal("unknown mode %s", os.Args[1])
	}
}
