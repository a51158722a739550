// Package testbed is tarsup's end-to-end test bed: fake Tars images built in
// process and served by a registry on 127.0.0.1, the machine's Docker Engine
// and extra engines that play other hosts, helpers that lay out deployments
// as users have them, and cleanup of all of it. Nothing is mocked: engines
// pull the images for real, and tarsup runs as a subprocess.
//
// # Use
//
// TestMain (tests/main_test.go) calls Setup once and Close at the end; a test
// then uses
//
//	bed.Local, bed.Engine(ctx, 1)       engines (extra ones start on first use)
//	d := bed.On(ctx, t, engine)         a Deployer: Run, Network, Volume, TarsDocs,
//	                                    Stop, Wait, Logs, ReadFile, WaitTCP, WaitHTTP, WaitHealth
//	bed.Images.Framework3015, ...       references of the standard images
//	bed.Images.Push(ctx, spec)          one more image, or a floating tag moved
//	bed.Registry.Requests()             what the registry was asked
//	testbed.Run(ctx, bed.Tarsup(t), args...)  the CLI, as Result{Stdout, Stderr, ExitCode}
//
// Names of containers, networks and volumes are engine-wide, and several runs
// (engineers, CI) may share the machine: put the run ID in them (tests use
// uniq()). Subnets: Engine.Subnet(k) gives each engine its own /24s.
//
// # Labels and cleanup
//
// Everything a Deployer creates carries RunLabel=<run ID> and
// CaseLabel=<test name>; tarsup copies labels to the containers it recreates.
// At the end of each test its objects are removed (containers forced, with
// their volumes, anonymous ones included), also when it failed, after the
// tail of every container's log is written to the test log. Close removes
// the whole run's objects and the images pulled from its registry, and stops
// the extra engines. A run that dies (panic, timeout, kill -9) stops its
// extra dockerds through Pdeathsig; the next run removes its containers,
// bridges, firewall rules and work dir.
//
// # Images
//
// Each image is one layer holding the static tarsfake binary
// (tests/fake/tarsfake), with an entrypoint naming its role, ENV
// FAKE_VERSION, the label org.opencontainers.image.version, the ports the
// real image exposes and, if asked, a HEALTHCHECK (1 s interval). The
// registry runs on 127.0.0.1, which Docker treats as insecure (plain HTTP)
// by default, so every engine on the machine pulls from it.
//
// # Extra engines and networking
//
// See StartEngine. In short: a second dockerd per slot, in the host's network
// namespace, with its own data root (vfs), exec root, pidfile, socket,
// managed containerd, bridge tsup<n>-0 (10.<240+n>.0.1/24), iptables off, and
// a TLS listener on 127.0.0.<10+n>:2376. Containers of any engine reach an
// extra engine's containers by IP on any port; an extra engine's containers
// reach the main engine's containers only on published ports (at the
// container IP, or at the host's address on their bridge, Engine.Gateway),
// as separate hosts would. The test process reaches every container by its
// bridge IP. Host networking is shared by all engines (one machine): only one
// host-networked framework fits on it.
package testbed
