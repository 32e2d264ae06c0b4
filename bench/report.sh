#!/usr/bin/env bash
# Write report.md and the PNG plots of a bench results folder.
#
# Usage: bench/report.sh DIR
#
# DIR holds what bench/run-bench.sh took out of the VM (each optional):
#   env.tsv, host.tsv          the guest and this machine (key, value)
#   reg.tsv                    bench/reg_bench: libfpgadma (with and
#                              without the monitor), fi_mr_reg (cold and
#                              cache hit), ibv_reg_mr; the munmap rows
#   rma-fpga.tsv               fabtests/bench_rma -p fpgadma -m fpga
#   rma-fpga-engine.tsv        the same, -S, FI_FPGADMA_MEM_MAP_MAX=0
#   host-fpgadma.tsv, host-shm.tsv   bench_rma -m host, -p fpgadma / -p shm
#   pingpong.tsv                 bench_rma -m host -P in alternating rounds
#   rate.tsv                     bench_rma -m host -S in alternating rounds
#   host-nodesc-cache.tsv, host-nodesc-nocache.tsv, host-nodesc-shm.tsv
#                              bench_rma -m host -U (no desc): fpgadma with
#                              FI_FPGADMA_MR_CACHE=1 and =0, and shm
#   atomic-fpgadma.tsv, atomic-shm.tsv, atomic-fpga.tsv
#                              bench_rma -A (8-byte atomics): -m host with
#                              -p fpgadma / -p shm, and -m fpga (the
#                              FPGA's memory)
#   mpi-cache.tsv, mpi-nocache.tsv, mpi-vader.tsv
#                              fabtests/mpi_pingpong -b (Open MPI, 2 ranks,
#                              unregistered buffers): cm + ofi MTL on fpgadma
#                              with FI_FPGADMA_MR_CACHE=1 and =0, ob1 + vader
#   stream.tsv                 bench/stream_bench: paced streams, the
#                              highest rate with no drop per frame size
#                              (libfpgadma's mapped ring)
#   stream-fi-copy.tsv, stream-fi-zc.tsv
#                              fabtests/bench_pstream: the same through the
#                              fpgadma provider, copy mode and zero copy
#   rxe-read.tsv               perftest ib_read_bw / ib_read_lat over rxe
#   stages.tsv                 the module's per-stage times
#   skipped.tsv                steps skipped, and why
#   forward.tsv                the two-node boot (bench/run-bench.sh's
#                              second): fabtests/fpga_forward zero copy and
#                              --copy against fi_msg_bw, per network
#                              provider and frame size, each round's
#                              rows (RUN#R) and their medians; with
#                              env-twonode.tsv, host-twonode.tsv and
#                              skipped-twonode.tsv of that boot
# The report has a header (date, machine, QEMU, guest), one section per
# measurement with its table and the ratios to its anchor measured in the
# same VM run (libfpgadma/rxe, fi_read/memcpy, fpgadma/shm (RMA and
# atomics), THP/4k, cache
# hit/cold, monitor/none, cache on/off), the goals each marked met or
# missed with its figure, and plots drawn with gnuplot (pngcairo, else png):
# registration time against size (log-log, with rxe), cache hit against
# cold, device bandwidth against memcpy, paced streams' throughput (the
# three paths) against memcpy, small-operation rate of fpgadma,
# shm and rxe, bandwidth without desc with the cache on and off, Open MPI's
# bandwidth and latency with the cache on and off and over vader.  A ratio
# is a speed ratio: above 1 the first named is faster, except hit/cold (a
# time ratio, in %) and the monitor's cost (the extra time, in %).  Rerun
# it on a folder to redraw.
set -euo pipefail
dir=${1:?usage: bench/report.sh DIR}
[ -d "$dir" ] || { echo "report: $dir is not a directory" >&2; exit 2; }
dir=$(cd "$dir" && pwd)
plots=$dir/.plot
rm -rf "$plots"
mkdir -p "$plots"

# The tables, the goals and the plot data (one file per series in $plots).
awk -v dir="$dir" -v plots="$plots" '
function load(file, prefix, keycols,   line, f, n, i, j, col, nk, kc, key, hdr) {
	file = dir "/" file
	if ((getline line < file) <= 0) return 0
	nk = split(keycols, kc, ",")
	hdr = 0
	do {
		if (line ~ /^#/) {
			if (line ~ /^# title: /) TITLE[prefix] = substr(line, 10)
			else NOTE[prefix, ++NNOTE[prefix]] = substr(line, 3)
			continue
		}
		n = split(line, f, "\t")
		if (!hdr) { for (i = 1; i <= n; i++) col[i] = f[i]; hdr = n; continue }
		key = ""
		for (i = 1; i <= n; i++) if (col[i] == "size") SIZES[prefix, f[i]] = 1
		for (i = 1; i <= nk; i++) {
			for (j = 1; j <= hdr; j++) if (col[j] == kc[i]) key = key (i > 1 ? "|" : "") f[j]
		}
		for (i = 1; i <= n; i++) V[prefix, key, col[i]] = f[i]
		ROWKEY[prefix, ++ROWS[prefix]] = key
	} while ((getline line < file) > 0)
	close(file)
	return ROWS[prefix]
}
function val(prefix, key, c) { return ((prefix, key, c) in V) ? V[prefix, key, c] : "" }
function dash(x) { return x == "" ? "–" : x }
# sizes(prefix, out, lo, hi): the sizes of prefix in [lo, hi], ascending.
function sizes(prefix, out, lo, hi,   k, p, n, i, j, t) {
	n = 0
	for (k in SIZES) {
		split(k, p, SUBSEP)
		if (p[1] != prefix || p[2] + 0 < lo || (hi && p[2] + 0 > hi)) continue
		out[++n] = p[2] + 0
	}
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && out[j - 1] > out[j]; j--) { t = out[j]; out[j] = out[j - 1]; out[j - 1] = t }
	return n
}
function human(s) {
	if (s >= 1048576 && s % 1048576 == 0) return (s / 1048576) " MiB"
	if (s >= 1024 && s % 1024 == 0) return (s / 1024) " KiB"
	return s " B"
}
function num(x) {
	if (x == "") return "–"
	x += 0
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
# ratio(a, b): a / b, or "" when either is missing or b is 0.
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "" : (a + 0) / (b + 0) }
function rnum(r) { return r == "" ? "–" : sprintf("%.2f", r) }
# pct(r): a ratio in %; cost(r): what a ratio of times adds, in %.
function pct(r) { return r == "" ? "–" : sprintf(100 * r < 1 ? "%.2f%%" : "%.1f%%", 100 * r) }
function cost(r) { return r == "" ? "–" : sprintf("%+.1f%%", 100 * (r - 1)) }
function skipped_why(step) { return (step in SKIP) ? SKIP[step] : "its results are missing" }
function section(title) { printf "\n## %s\n\n", title }
# A table: header(h, n) starts it, row(c, n) adds a row, done() prints it,
# or says there is no data.
function line_of(a, n,   i, s) { s = "|"; for (i = 1; i <= n; i++) s = s " " a[i] " |"; return s }
function header(a, n,   i, s) {
	s = "|"; for (i = 1; i <= n; i++) s = s " --- |"
	THEAD = line_of(a, n) "\n" s; NT = 0
}
function row(a, n) { TROW[++NT] = line_of(a, n) }
function done(   i) {
	if (!NT) { print "(no data)"; return }
	print THEAD; for (i = 1; i <= NT; i++) print TROW[i]
	NT = 0
}
function series(name, x, y) { if (x != "" && y != "" && y + 0 > 0) print x, y > (plots "/" name ".dat") }
# host_table(mode, col, n): fpgadma against shm, host_read and host_write,
# at the n sizes of S2; for the rate, rxe'\''s ib_read_bw beside them.
function host_table(mode, col, n,   i, s, fr, sr, fw, sw, xr, c, h, nh) {
	nh = split("size|fpgadma host_read|shm host_read|fpgadma/shm|fpgadma host_write|shm host_write|fpgadma/shm", h, "|")
	if (mode == "rate") { h[++nh] = "rxe ib_read_bw"; h[++nh] = "fpgadma read/rxe" }
	header(h, nh)
	for (i = 1; i <= n; i++) {
		s = S2[i]
		fr = val("hf", "host_read|" mode "|" s, col); sr = val("hs", "host_read|" mode "|" s, col)
		fw = val("hf", "host_write|" mode "|" s, col); sw = val("hs", "host_write|" mode "|" s, col)
		xr = mode == "rate" ? val("rxe", "ib_read_bw|rate|" s, col) : ""
		if (fr fw sr sw xr == "") continue
		c[1] = human(s); c[2] = num(fr); c[3] = num(sr); c[4] = rnum(ratio(fr, sr))
		c[5] = num(fw); c[6] = num(sw); c[7] = rnum(ratio(fw, sw)); c[8] = num(xr); c[9] = rnum(ratio(fr, xr))
		series(mode "-fpgadma-host_read", s, fr); series(mode "-shm-host_read", s, sr)
		series(mode "-fpgadma-host_write", s, fw); series(mode "-shm-host_write", s, sw)
		series(mode "-rxe-ib_read_bw", s, xr)
		row(c, nh)
	}
	done()
}
# stream_mark(prefix, size, text): the figure of a paced stream, marked by
# the result of its row: capped (at least that) or unconfirmed.
function stream_mark(prefix, size, text,   r) {
	if (text == "–") return text
	r = val(prefix, size, "result")
	if (r == "capped") return "≥ " text
	if (r == "unconfirmed") return text " †"
	return text
}
# goal(line, state, figure): a line of the goals list.
function goal(text, state, figure) { GOALS[++NGOALS] = "- **" state "**: " text ": " figure }
# extremes(...) over ratios: MIN, MINAT, MAX, NR.
function ext_reset() { MIN = ""; MAX = ""; MINAT = ""; MAXAT = ""; NR_ = 0; LOGSUM = 0 }
# ... and GEO(): their geometric mean.
function GEO() { return NR_ ? exp(LOGSUM / NR_) : "" }
function ext_add(r, at) {
	if (r == "" || r <= 0) return
	NR_++; LOGSUM += log(r)
	if (MIN == "" || r < MIN) { MIN = r; MINAT = at }
	if (MAX == "" || r > MAX) { MAX = r; MAXAT = at }
}
# NOTE_MATCH(re): whether a note of reg.tsv matches re; the first in NOTE_FOUND.
function NOTE_MATCH(re,   i) {
	for (i = 1; i <= NNOTE["reg"]; i++) if (NOTE["reg", i] ~ re) { NOTE_FOUND = NOTE["reg", i]; return 1 }
	return 0
}

BEGIN {
	while ((getline line < (dir "/skipped.tsv")) > 0) {
		split(line, f, "\t"); SKIP[f[1]] = f[2]; NSKIP++
	}
	while ((getline line < (dir "/skipped-twonode.tsv")) > 0) {
		split(line, f, "\t"); SKIP[f[1]] = f[2]; NSKIP++
	}
	load("env.tsv", "env", "key"); load("host.tsv", "host", "key")
	have_reg = load("reg.tsv", "reg", "api,backing,touch,size")
	have_rma = load("rma-fpga.tsv", "rma", "test,mode,size")
	have_rme = load("rma-fpga-engine.tsv", "rme", "test,mode,size")
	have_hf = load("host-fpgadma.tsv", "hf", "test,mode,size")
	have_hs = load("host-shm.tsv", "hs", "test,mode,size")
	have_pp = load("pingpong.tsv", "pp", "test,mode,size")
	have_rt = load("rate.tsv", "rt", "test,mode,size")
	NRT = 0		# rounds of the rate step
	for (k in V) { split(k, p, SUBSEP); if (p[1] == "rt" && p[3] == "test" && V[k] ~ /^host_read@fpgadma#/) { r = V[k]; sub(/.*#/, "", r); if (r + 0 > NRT) NRT = r + 0 } }
	NPP = 0		# rounds of the pingpong step
	for (k in V) { split(k, p, SUBSEP); if (p[1] == "pp" && p[3] == "test" && V[k] ~ /^pingpong-fpgadma#/) { r = V[k]; sub(/.*#/, "", r); if (r + 0 > NPP) NPP = r + 0 } }
	have_nc = load("host-nodesc-cache.tsv", "nc", "test,mode,size")
	have_nn = load("host-nodesc-nocache.tsv", "nn", "test,mode,size")
	have_ns = load("host-nodesc-shm.tsv", "ns", "test,mode,size")
	have_af = load("atomic-fpgadma.tsv", "af", "test,mode,size")
	have_as = load("atomic-shm.tsv", "as", "test,mode,size")
	have_ag = load("atomic-fpga.tsv", "ag", "test,mode,size")
	have_mc = load("mpi-cache.tsv", "mc", "size")
	have_mn = load("mpi-nocache.tsv", "mn", "size")
	have_mv = load("mpi-vader.tsv", "mv", "size")
	have_rxe = load("rxe-read.tsv", "rxe", "test,mode,size")
	have_st = load("stages.tsv", "st", "workload,stage")
	have_pb = load("post.tsv", "pb", "test,mode,size")
	have_sb = load("stream.tsv", "sb", "size")
	have_sc = load("stream-fi-copy.tsv", "sc", "size")
	have_sz = load("stream-fi-zc.tsv", "sz", "size")
	have_fw = load("forward.tsv", "fw", "prov,size,run")
	load("env-twonode.tsv", "env2", "key"); load("host-twonode.tsv", "host2", "key")

	print "# fpgadma benchmarks"
	print ""
	printf "Run %s on `%s`%s.\n", val("host", "date", "value"), val("host", "host", "value"),
		val("host", "quick", "value") == "yes" ? " (quick mode: a few sizes and iterations only)" : ""
	print ""
	print "| | |"
	print "| --- | --- |"
	printf "| machine | %s, %s cores, %.1f GiB |\n", val("host", "cpu", "value"), val("host", "cores", "value"),
		val("host", "mem_mib", "value") / 1024
	printf "| host kernel | %s |\n", val("host", "host_kernel", "value")
	printf "| emulator | %s, TCG |\n", val("host", "qemu", "value")
	printf "| guest | kernel %s, %s vCPUs, %s MiB (QEMU `%s`), THP `%s` |\n", val("env", "guest_kernel", "value"),
		val("env", "guest_cpus", "value"), val("env", "guest_mem_mib", "value"),
		val("host", "vm", "value"), val("env", "guest_thp", "value")
	printf "| device | %s |\n", val("env", "device", "value")
	printf "| VM run | %s s, exit status %s |\n", val("host", "vm_seconds", "value"), val("host", "vm_status", "value")
	print ""
	print "Absolute times under TCG mean little; the ratios to the anchors, measured in the same"
	print "VM run, are what count. A ratio is a speed ratio: above 1 the first named is faster."

	# ---- registration
	section("Registration (register + deregister)")
	if (!have_reg) print "Not measured: " skipped_why("reg") "."
	else {
		print TITLE["reg"] ". Time in µs: the median of one register+deregister pair; MB/s = size / time;"
		print "`x/rxe` = ibv_reg_mr time / x time (the kernel'\''s own ib_umem on soft-RoCE)."
		split("libfpgadma fi_mr_reg ibv_reg_mr", api, " ")
		split("4k thp", bk, " "); split("prefaulted first-touch", tc, " ")
		for (b = 1; b <= 2; b++) for (t = 1; t <= 2; t++) {
			printf "\n### %s, %s\n\n", bk[b] == "4k" ? "4 KiB pages" : "Transparent huge pages", tc[t]
			split("size|libfpgadma µs|fi_mr_reg µs|ibv_reg_mr µs|libfpgadma MB/s|fi_mr_reg MB/s|ibv_reg_mr MB/s|libfpgadma/rxe|fi_mr_reg/rxe", h, "|")
			header(h, 9)
			n = sizes("reg", S)
			for (i = 1; i <= n; i++) {
				s = S[i]; c[1] = human(s)
				for (a = 1; a <= 3; a++) {
					k = api[a] "|" bk[b] "|" tc[t] "|" s
					u[a] = val("reg", k, "usec"); c[1 + a] = num(u[a]); c[4 + a] = num(val("reg", k, "MBps"))
					series("reg-" tc[t] "-" api[a] "-" bk[b], s, u[a])
				}
				c[8] = rnum(ratio(u[3], u[1])); c[9] = rnum(ratio(u[3], u[2]))
				if (u[1] u[2] u[3] != "") row(c, 9)
			}
			done()
		}
		printf "\n### THP against 4 KiB pages, prefaulted (time per byte, 4k / thp)\n\n"
		split("size|libfpgadma 4k µs|libfpgadma thp µs|libfpgadma thp/4k|fi_mr_reg thp/4k|ibv_reg_mr thp/4k", h, "|")
		header(h, 6)
		n = sizes("reg", S)
		for (i = 1; i <= n; i++) {
			s = S[i]; c[1] = human(s)
			c[2] = num(val("reg", "libfpgadma|4k|prefaulted|" s, "usec"))
			c[3] = num(val("reg", "libfpgadma|thp|prefaulted|" s, "usec"))
			any = 0
			for (a = 1; a <= 3; a++) {
				c[3 + a] = rnum(ratio(val("reg", api[a] "|4k|prefaulted|" s, "usec"), val("reg", api[a] "|thp|prefaulted|" s, "usec")))
				if (val("reg", api[a] "|4k|prefaulted|" s, "usec") val("reg", api[a] "|thp|prefaulted|" s, "usec") != "") any = 1
			}
			if (any) row(c, 6)
		}
		done()
		# the THP backing reg_bench checked (AnonHugePages of each thp region)
		full = 0; part = 0; worst = ""
		for (i = 1; i <= NNOTE["reg"]; i++) {
			if (match(NOTE["reg", i], /AnonHugePages -?[0-9]+ kB of a [0-9]+ kB/)) {
				split(substr(NOTE["reg", i], RSTART, RLENGTH), w, " ")
				if (w[2] + 0 >= w[6] + 0) full++; else { part++; if (worst == "") worst = NOTE["reg", i] }
			}
		}
		printf "\nTHP backing (AnonHugePages of each thp region while registered or after prefaulting): %d regions fully huge, %d not%s.\n",
			full, part, worst == "" ? "" : " (first: " worst ")"
		for (i = 1; i <= NNOTE["reg"]; i++) if (NOTE["reg", i] ~ /: skipped: /) print "\n" NOTE["reg", i] "."
	}
	# goals: registration
	for (a = 1; a <= 2; a++) {
		nm = a == 1 ? "libfpgadma" : "fi_mr_reg"
		text = "pre-faulted 4 KiB-page registration through " nm " at least as fast as ibv_reg_mr on rxe at every size from 64 KiB"
		ext_reset()
		n = sizes("reg", S, 65536)
		for (i = 1; i <= n; i++)
			ext_add(ratio(val("reg", "ibv_reg_mr|4k|prefaulted|" S[i], "usec"), val("reg", nm "|4k|prefaulted|" S[i], "usec")), S[i])
		if (!NR_) goal(text, "not measured", have_reg ? "no ibv_reg_mr or " nm " figures (" skipped_why("rxe") ")" : skipped_why("reg"))
		else goal(text, MIN >= 1 ? "met" : "missed",
			sprintf("%s/rxe speed %.2f to %.2f over %d sizes, lowest at %s", nm, MIN, MAX, NR_, human(MINAT)))
	}
	text = "THP-backed memory registered at least 5 times faster per byte than 4 KiB pages (libfpgadma, prefaulted, sizes from 4 MiB)"
	ext_reset()
	n = sizes("reg", S, 4194304)
	for (i = 1; i <= n; i++)
		ext_add(ratio(val("reg", "libfpgadma|4k|prefaulted|" S[i], "usec"), val("reg", "libfpgadma|thp|prefaulted|" S[i], "usec")), S[i])
	if (!NR_) goal(text, "not measured", have_reg ? "no sizes of 4 MiB and more" : skipped_why("reg"))
	else goal(text, MIN >= 5 ? "met" : "missed", sprintf("thp/4k %.2f to %.2f over %d sizes, lowest at %s", MIN, MAX, NR_, human(MINAT)))

	# ---- the provider cache: hits against cold registrations
	section("Registration cache: hit vs cold")
	hit = "fi_mr_reg cache hit"
	split("4k thp", bk, " ")
	nhit = 0
	for (r = 1; r <= ROWS["reg"]; r++) { split(ROWKEY["reg", r], p, "|"); if (p[1] == hit) nhit++ }
	if (!have_reg) print "Not measured: " skipped_why("reg") "."
	else if (!nhit) print "Not measured: reg.tsv has no `" hit "` rows" (NOTE_MATCH("^" hit ": skipped: ") ? " (" NOTE_FOUND ")" : "") "."
	else {
		print "bench/reg_bench: fi_mr_reg + fi_close of one prefaulted buffer again and again with the provider'\''s"
		print "cache on (`FI_FPGADMA_MR_CACHE=1`; a warm-up registration stays open, so every timed fi_mr_reg is a hit)"
		print "against `fi_mr_reg`, a cold registration with the cache off (`FI_FPGADMA_MR_CACHE=0`), each in a"
		print "process of its own, taking turns at each size. Time in µs per fi_mr_reg + fi_close; `hit/cold` ="
		print "hit time / cold time (goal: at most 5%; upstream fabtests count a cache as real at 20%)."
		print ""
		split("size|4k cold µs|4k hit µs|4k hit/cold|thp cold µs|thp hit µs|thp hit/cold", h, "|")
		header(h, 7)
		n = sizes("reg", S)
		for (i = 1; i <= n; i++) {
			s = S[i]; c[1] = human(s); any = 0
			for (b = 1; b <= 2; b++) {
				cu = val("reg", "fi_mr_reg|" bk[b] "|prefaulted|" s, "usec")
				hu = val("reg", hit "|" bk[b] "|prefaulted|" s, "usec")
				c[3 * b - 1] = num(cu); c[3 * b] = num(hu); c[3 * b + 1] = pct(ratio(hu, cu))
				series("cache-cold-" bk[b], s, cu); series("cache-hit-" bk[b], s, hu)
				if (hu != "") any = 1
			}
			if (any) row(c, 7)
		}
		done()
		print ""
		for (i = 1; i <= NNOTE["reg"]; i++)
			if (NOTE["reg", i] ~ /FI_FPGADMA_MR_CACHE|first-touch not measured|local rights/) print "- " NOTE["reg", i]
	}
	text = "a registration cache hit (fi_mr_reg + fi_close of a registered buffer) costs at most 5% of a cold fi_mr_reg at every size from 4 KiB to 256 MiB (prefaulted, 4 KiB pages and THP)"
	ext_reset()
	n = sizes("reg", S, 4096, 268435456)
	for (i = 1; i <= n; i++) for (b = 1; b <= 2; b++)
		ext_add(ratio(val("reg", hit "|" bk[b] "|prefaulted|" S[i], "usec"), val("reg", "fi_mr_reg|" bk[b] "|prefaulted|" S[i], "usec")), bk[b] " " S[i])
	if (!NR_) goal(text, "not measured", !have_reg ? skipped_why("reg") : "no `" hit "` and cold fi_mr_reg rows")
	else if (NOTE_MATCH("^WARNING: " hit ": .*no FI_FPGADMA_MR_CACHE")) goal(text, "not measured", "the provider has no FI_FPGADMA_MR_CACHE parameter: the hit rows are cold registrations")
	else { split(MAXAT, w, " "); goal(text, MAX <= 0.05 ? "met" : "missed",
		sprintf("hit/cold %s to %s over %d points, highest: %s at %s", pct(MIN), pct(MAX), NR_, w[1], human(w[2] + 0))) }

	# ---- the memory monitor: registration and munmap
	section("Monitor cost")
	nmonrows = 0
	for (r = 1; r <= ROWS["reg"]; r++) { split(ROWKEY["reg", r], p, "|"); if (p[1] == "libfpgadma+mon" || p[1] == "munmap") nmonrows++ }
	if (!have_reg) print "Not measured: " skipped_why("reg") "."
	else if (!nmonrows) print "Not measured: reg.tsv has no libfpgadma+mon or munmap rows" (NOTE_MATCH("^libfpgadma\\+mon: skipped: ") ? " (" NOTE_FOUND ")" : "") "."
	else {
		print "bench/reg_bench: `libfpgadma+mon` (fpgadma_reg_mr_monitor: the kernel watches the range) against"
		print "`libfpgadma` (fpgadma_reg_mr), both cold register + deregister pairs taking turns at each size;"
		print "`cost` = +mon time / plain time − 1 (goal: under 5%)."
		printf "\n### Cold registration with and without the monitor\n\n"
		split("size|4k prefaulted µs|4k prefaulted +mon µs|4k prefaulted cost|4k first-touch cost|thp prefaulted cost|thp first-touch cost", h, "|")
		header(h, 7)
		n = sizes("reg", S)
		for (i = 1; i <= n; i++) {
			s = S[i]; c[1] = human(s); any = 0
			pu = val("reg", "libfpgadma|4k|prefaulted|" s, "usec"); mu = val("reg", "libfpgadma+mon|4k|prefaulted|" s, "usec")
			c[2] = num(pu); c[3] = num(mu); c[4] = cost(ratio(mu, pu))
			if (mu != "") any = 1
			split("4k|first-touch thp|prefaulted thp|first-touch", combo, " ")
			for (k2 = 1; k2 <= 3; k2++) {
				m2 = val("reg", "libfpgadma+mon|" combo[k2] "|" s, "usec")
				c[4 + k2] = cost(ratio(m2, val("reg", "libfpgadma|" combo[k2] "|" s, "usec")))
				if (m2 != "") any = 1
			}
			if (any) row(c, 7)
		}
		done()
		for (i = 1; i <= NNOTE["reg"]; i++) if (NOTE["reg", i] ~ /^libfpgadma\+mon: skipped: /) print "\n" NOTE["reg", i] "."
		printf "\n### munmap of memory no MR covers\n\n"
		# the munmap rows: touch mon0, mon<N>, mon0-after
		mon0 = ""; monn = ""; mona = ""; nmon = ""
		for (r = 1; r <= ROWS["reg"]; r++) {
			k = ROWKEY["reg", r]; split(k, p, "|")
			if (p[1] != "munmap") continue
			if (p[3] == "mon0") mon0 = k
			else if (p[3] == "mon0-after") mona = k
			else if (p[3] ~ /^mon[0-9]+$/) { monn = k; nmon = substr(p[3], 4) }
		}
		if (mon0 == "") {
			print "Not measured" (NOTE_MATCH("^munmap: skipped: ") ? ": " substr(NOTE_FOUND, 18) : ": reg.tsv has no munmap rows") "."
		} else {
			print "The median time of one mmap + munmap of a fresh, untouched 64 KiB region no MR covers (the cheapest"
			print "munmap, where a fixed cost shows most), with no monitored MR, with " (nmon == "" ? "N" : nmon) " monitored MRs of a page each on other"
			print "memory, and with none again after they were deregistered (the process keeps its notifier"
			print "subscription); none of the MRs may become invalid meanwhile. `against 0` = time / the first row'\''s − 1."
			print ""
			split("monitored MRs|µs per mmap+munmap|pairs timed|against 0", h, "|")
			header(h, 4)
			base = val("reg", mon0, "usec")
			split(mon0 "#" monn "#" mona, mk, "#")
			split("0 (none registered yet)#" nmon "#0 (after the " nmon " were deregistered)", ml, "#")
			for (m3 = 1; m3 <= 3; m3++) {
				if (mk[m3] == "") continue
				c[1] = ml[m3]; c[2] = num(val("reg", mk[m3], "usec")); c[3] = val("reg", mk[m3], "iters")
				c[4] = m3 == 1 ? "(base)" : cost(ratio(val("reg", mk[m3], "usec"), base))
				row(c, 4)
			}
			done()
		}
	}
	text = "the memory monitor adds under 5% to a cold registration (libfpgadma+mon against libfpgadma, prefaulted, 4 KiB pages and THP: the geometric mean over the sizes, single points being noisier than that under TCG)"
	ext_reset()
	n = sizes("reg", S)
	for (i = 1; i <= n; i++) for (b = 1; b <= 2; b++)
		ext_add(ratio(val("reg", "libfpgadma+mon|" bk[b] "|prefaulted|" S[i], "usec"), val("reg", "libfpgadma|" bk[b] "|prefaulted|" S[i], "usec")), bk[b] " " S[i])
	if (!NR_) goal(text, "not measured", !have_reg ? skipped_why("reg") : "no libfpgadma+mon rows")
	else { split(MAXAT, w, " "); goal(text, GEO() < 1.05 ? "met" : "missed",
		sprintf("cost %s on average, %s to %s over %d points, highest: %s at %s", cost(GEO()), cost(MIN), cost(MAX), NR_, w[1], human(w[2] + 0))) }
	text = "an munmap of memory no MR covers costs under 5% more with " (nmon == "" ? "1000" : nmon) " monitored MRs than with none (64 KiB, mmap + munmap)"
	if (!have_reg || mon0 == "" || monn == "") goal(text, "not measured", !have_reg ? skipped_why("reg") : "no munmap rows")
	else { r = ratio(val("reg", monn, "usec"), val("reg", mon0, "usec")); goal(text, r < 1.05 ? "met" : "missed",
		sprintf("%s µs against %s µs: %s", num(val("reg", monn, "usec")), num(val("reg", mon0, "usec")), cost(r))) }

	# ---- device reads and writes
	section("Device reads and writes against memcpy")
	if (!have_rma) print "Not measured: " skipped_why("rma-fpga") "."
	else {
		print TITLE["rma"] ". Bandwidth in MB/s (10^6 bytes/s); `x/memcpy` = x bandwidth / memcpy bandwidth of the same size in the same process."
		print ""
		split("size|fi_read_mem|fi_write_mem|fi_read_stream|memcpy|read/memcpy|write/memcpy|stream/memcpy", h, "|")
		header(h, 8)
		split("fi_read_mem fi_write_mem fi_read_stream memcpy", tt, " ")
		n = sizes("rma", S)
		for (i = 1; i <= n; i++) {
			s = S[i]
			if (val("rma", "memcpy|bw|" s, "MBps") == "" && val("rma", "fi_read_mem|bw|" s, "MBps") == "") continue
			c[1] = human(s)
			for (a = 1; a <= 4; a++) {
				m[a] = val("rma", tt[a] "|bw|" s, "MBps"); c[1 + a] = num(m[a])
				series("bw-" tt[a], s, m[a])
			}
			for (a = 1; a <= 3; a++) c[5 + a] = rnum(ratio(m[a], m[4]))
			row(c, 8)
		}
		done()
		print "\n### Small operations on the FPGA\n"
		print "Latency: one operation in flight; rate: a window of operations in flight. The provider does an RMA of the FPGA'\''s memory of up to FI_FPGADMA_MEM_MAP_MAX bytes (4 KiB by default) with loads and stores through the device memory mapped into the process when the endpoint has nothing else in flight; the columns \"engine\" are the same operations with FI_FPGADMA_MEM_MAP_MAX=0, every one a work request of the DMA engine (step rma-fpga-engine" (have_rme ? "" : ": " skipped_why("rma-fpga-engine")) ")."
		print ""
		split("size|fi_read_mem µs|fi_write_mem µs|fi_read_mem ops/s|fi_write_mem ops/s|engine: fi_read_mem µs|engine: fi_write_mem µs|engine: fi_read_mem ops/s|engine: fi_write_mem ops/s", h, "|")
		header(h, 9)
		for (i = 1; i <= n; i++) {
			s = S[i]
			if (val("rma", "fi_read_mem|lat|" s, "usec") == "" && val("rma", "fi_read_mem|rate|" s, "ops_per_s") == "") continue
			c[1] = human(s)
			c[2] = num(val("rma", "fi_read_mem|lat|" s, "usec")); c[3] = num(val("rma", "fi_write_mem|lat|" s, "usec"))
			c[4] = num(val("rma", "fi_read_mem|rate|" s, "ops_per_s")); c[5] = num(val("rma", "fi_write_mem|rate|" s, "ops_per_s"))
			c[6] = num(val("rme", "fi_read_mem|lat|" s, "usec")); c[7] = num(val("rme", "fi_write_mem|lat|" s, "usec"))
			c[8] = num(val("rme", "fi_read_mem|rate|" s, "ops_per_s")); c[9] = num(val("rme", "fi_write_mem|rate|" s, "ops_per_s"))
			series("rate-fpga-fi_read_mem", s, val("rma", "fi_read_mem|rate|" s, "ops_per_s"))
			row(c, 9)
		}
		done()
		io = val("rma", "ioctl_empty|lat|0", "usec")
		if (io != "") printf "\nThe anchor, in the same run: an ioctl round trip into the driver that does nothing (a command number no call has, refused after the driver entered the context): %s µs; an 8 B fi_read_mem takes %s of it%s.\n", num(io), rnum(ratio(val("rma", "fi_read_mem|lat|8", "usec"), io)), val("rme", "fi_read_mem|lat|8", "usec") == "" ? "" : sprintf("; through the engine %s µs, %s of it", num(val("rme", "fi_read_mem|lat|8", "usec")), rnum(ratio(val("rme", "fi_read_mem|lat|8", "usec"), io)))
	}
	text = "8 B fi_read of the FPGA'\''s memory at most twice an empty ioctl round trip (the limit of a kernel-mediated engine)"
	io = val("rma", "ioctl_empty|lat|0", "usec"); rd = val("rma", "fi_read_mem|lat|8", "usec")
	if (io == "" || rd == "") goal(text, "not measured", have_rma ? "no ioctl_empty or 8 B fi_read_mem latency row" : skipped_why("rma-fpga"))
	else {
		r = ratio(rd, io); re = val("rme", "fi_read_mem|lat|8", "usec")
		goal(text, r <= 2 ? "met" : "missed", sprintf("fi_read_mem %s µs (the provider'\''s default: through the mapped memory), ioctl %s µs: %.2f times; through the DMA engine (FI_FPGADMA_MEM_MAP_MAX=0) %s", num(rd), num(io), r, re == "" ? "not measured" : sprintf("%s µs, %.2f times", num(re), ratio(re, io))))
	}
	text = "device reads of 1 MiB and more at 80% or more of memcpy bandwidth"
	ext_reset()
	n = sizes("rma", S, 1048576)
	for (i = 1; i <= n; i++) ext_add(ratio(val("rma", "fi_read_mem|bw|" S[i], "MBps"), val("rma", "memcpy|bw|" S[i], "MBps")), S[i])
	if (!NR_) goal(text, "not measured", have_rma ? "no reads of 1 MiB and more" : skipped_why("rma-fpga"))
	else goal(text, MIN >= 0.8 ? "met" : "missed", sprintf("fi_read_mem/memcpy %.0f%% to %.0f%% over %d sizes, lowest at %s", 100 * MIN, 100 * MAX, NR_, human(MINAT)))

	# ---- paced streams: libfpgadma, and the provider in copy mode and zero copy
	section("Paced streams: the highest frame rate without a drop")
	split("sb sc sz", SP, " "); split("libfpgadma|fi-copy|fi-zc", SPN, "|")
	split("stream|stream-fi-copy|stream-fi-zc", SPS, "|")
	SPH["sb"] = have_sb; SPH["sc"] = have_sc; SPH["sz"] = have_sz
	if (!have_sb && !have_sc && !have_sz)
		print "Not measured: libfpgadma: " skipped_why("stream") "; fi-copy: " skipped_why("stream-fi-copy") "; fi-zc: " skipped_why("stream-fi-zc") "."
	else {
		print "Per frame size, the highest rate (frames/s) at which the device wrote every frame into the ring and"
		print "one consumer took them with no drop for the time `held`, through three paths, each with the same"
		print "search, in the same VM run: **libfpgadma** (bench/stream_bench: the mapped ring, fpgadma_stream_ready),"
		print "**fi-copy** (fabtests/bench_pstream through the fpgadma provider: FI_MULTI_RECV receives from the"
		print "FPGA'\''s fi_addr, the provider copying each frame out of its ring) and **fi-zc** (the provider'\''s"
		print "zero-copy ring, FI_FPGADMA_STREAM_ZC: stream_ready / stream_slot / stream_release). MB/s = rate ×"
		print "size (10^6 bytes/s); `of memcpy` = that / memcpy of one frame between two buffers in the same"
		print "process (the side-by-side table shows libfpgadma'\''s run'\''s memcpy); latency from the frame'\''s"
		print "timestamp (the device producing it) to the consumer seeing it, at that rate; CPU: the consumer'\''s"
		print "user + system seconds per 10^9 bytes (fi-copy'\''s includes the provider'\''s copies). `x/libfpgadma` ="
		print "x MB/s / libfpgadma MB/s. ≥: no drop up to the search'\''s ceiling or a rate the device refuses"
		print "(capped); †: not confirmed for the whole time (the figures are the last, failed, run'\''s)."
		for (a = 1; a <= 3; a++) if (!SPH[SP[a]]) print "\n" SPN[a] ": not measured: " skipped_why(SPS[a]) "."
		delete S5; delete seen5; n = 0
		for (k in SIZES) { split(k, p, SUBSEP); if ((p[1] == "sb" || p[1] == "sc" || p[1] == "sz") && !((p[2] + 0) in seen5)) { seen5[p[2] + 0] = 1; S5[++n] = p[2] + 0 } }
		for (i = 2; i <= n; i++) for (j = i; j > 1 && S5[j - 1] > S5[j]; j--) { t = S5[j]; S5[j] = S5[j - 1]; S5[j - 1] = t }

		print "\n### Side by side\n"
		split("size|memcpy MB/s|libfpgadma MB/s|fi-copy MB/s|fi-zc MB/s|fi-copy/libfpgadma|fi-zc/libfpgadma|libfpgadma p99 µs|fi-copy p99 µs|fi-zc p99 µs|libfpgadma CPU s/GB|fi-copy CPU s/GB|fi-zc CPU s/GB", h, "|")
		header(h, 13)
		for (i = 1; i <= n; i++) {
			s = S5[i]
			mc = val("sb", s, "memcpy_MBps")
			if (mc == "") mc = val("sc", s, "memcpy_MBps")
			if (mc == "") mc = val("sz", s, "memcpy_MBps")
			c[1] = human(s); c[2] = num(mc)
			for (a = 1; a <= 3; a++) {
				m[a] = val(SP[a], s, "MBps"); c[2 + a] = stream_mark(SP[a], s, num(m[a]))
				c[7 + a] = num(val(SP[a], s, "lat_p99_us")); c[10 + a] = num(val(SP[a], s, "cpu_s_per_GB"))
				series("stream-MBps-" SPN[a], s, m[a])
			}
			c[6] = rnum(ratio(m[2], m[1])); c[7] = rnum(ratio(m[3], m[1]))
			series("stream-memcpy", s, mc)
			row(c, 13)
		}
		done()

		print "\n### Each path\n"
		split("size|path|ring|frames/s|MB/s|memcpy MB/s|of memcpy|p50 µs|p99 µs|max µs|CPU s/GB|held s|trials|result", h, "|")
		header(h, 14)
		for (i = 1; i <= n; i++) {
			s = S5[i]
			for (a = 1; a <= 3; a++) {
				pr = SP[a]
				if (val(pr, s, "size") == "") continue
				c[1] = human(s); c[2] = SPN[a]
				c[3] = val(pr, s, "nslots") " × " human(val(pr, s, "slot_size") + 0)
				c[4] = num(val(pr, s, "frames_per_s")); c[5] = num(val(pr, s, "MBps"))
				c[6] = num(val(pr, s, "memcpy_MBps")); c[7] = pct(val(pr, s, "of_memcpy"))
				c[8] = num(val(pr, s, "lat_p50_us")); c[9] = num(val(pr, s, "lat_p99_us")); c[10] = num(val(pr, s, "lat_max_us"))
				c[11] = num(val(pr, s, "cpu_s_per_GB")); c[12] = num(val(pr, s, "duration_s"))
				c[13] = val(pr, s, "trials"); c[14] = val(pr, s, "result")
				if (val(pr, s, "drops") + 0 > 0) c[14] = c[14] " (" val(pr, s, "drops") " drops)"
				row(c, 14)
			}
		}
		done()

		# the titles, then each note once, under the paths that have it
		# (none named when every path measured has it)
		print ""
		delete NPATHS_OF; delete NORDER; nnotes = 0; np = 0
		for (a = 1; a <= 3; a++) {
			if (!SPH[SP[a]]) continue
			np++
			if (TITLE[SP[a]] != "") print "- " SPN[a] ": " TITLE[SP[a]]
			for (i = 1; i <= NNOTE[SP[a]]; i++) {
				nt = NOTE[SP[a], i]
				if (!(nt in NPATHS_OF)) { NORDER[++nnotes] = nt; NPATHS_OF[nt] = SPN[a]; NPC[nt] = 1 }
				else if (index(", " NPATHS_OF[nt] ", ", ", " SPN[a] ", ") == 0) { NPATHS_OF[nt] = NPATHS_OF[nt] ", " SPN[a]; NPC[nt]++ }
			}
		}
		for (i = 1; i <= nnotes; i++) {
			nt = NORDER[i]
			if (np > 1 && NPC[nt] == np) print "- " nt
			else if (NPC[nt] == 1 && index(nt, NPATHS_OF[nt] ": ") == 1) print "- " nt
			else print "- " NPATHS_OF[nt] ": " nt
		}
	}

	# ---- forwarding to another node: against the network'\''s own limit
	section("Forwarding the FPGA'\''s frames to another node")
	if (!have_fw) print "Not measured: " skipped_why("forward") "."
	else {
		printf "Two guests (node a, node b: kernel %s, %s vCPU, %s MiB each, QEMU `%s`; %s s, exit status %s),\n",
			val("env2", "guest_kernel", "value"), val("env2", "guest_cpus", "value"), val("env2", "guest_mem_mib", "value"),
			val("host2", "vm", "value"), val("host2", "vm_seconds", "value"), val("host2", "vm_status", "value")
		print "linked by a virtio NIC each on a QEMU dgram netdev (UDP, 8 MiB receive buffers; tcp on it, verbs on soft-RoCE rxe0 over it). **limit**: the"
		print "network'\''s own, upstream'\''s fi_msg_bw -e msg from node a to node b with the same provider and FI_EP_MSG"
		print "endpoints, in the same boot just before, the higher of two runs: spinning on its completion queues (its"
		print "default) and waiting in fi_cq_sread (-c sread, as the forwarder waits). **zero copy**: fabtests/fpga_forward, node a'\''s FPGA stream"
		print "written into a ring registered with fpgadma and the network provider, each frame sent from its slot;"
		print "**copy**: the same with each frame memcpy'\''d into a send buffer first. The stream is paced at twice"
		print "the limit, so the network holds it back and the FPGA drops (and counts) what finds no free slot."
		print "MB/s and frames/s: frames delivered to node b and verified there, every word, over node b'\''s time"
		print "from its first frame to its last (10^6 bytes/s). CPU: node a'\''s forwarding process, user + system"
		print "seconds per 10^9 bytes forwarded (the model'\''s kernel threads that write the frames, a real board'\''s"
		print "DMA, and the network'\''s own kernel threads are not counted). `zc/limit` = zero copy MB/s / limit MB/s."
		print "With rounds (each measures every size once; forward.tsv'\''s rows RUN#R): each figure is the median"
		print "round'\''s (limit: the higher of the spinning and waiting medians; zero copy and copy: all figures of"
		print "the round with the median MB/s), and `zc/limit by round` gives each round'\''s own ratio. Over verbs,"
		print "soft-RoCE'\''s counters on node a over each of those runs: resends (rcvd_seq_err: a packet lost on the link,"
		print "everything after it sent again) and RNR retries (rcvd_rnr_err: a send that found no receive posted)."
		print "Forwarder asleep: the share of the zero-copy run'\''s streaming time it slept with the most sends in flight"
		print "it allows (waiting for the network) and with fewer and no frame to send (waiting for the FPGA)."
		print "‡: the limit measured below the forwarder'\''s rate (fi_msg_bw'\''s window-and-acknowledge loop does not fill"
		print "the link at this size, so the ratio overstates); †: the source dropped no frame (the stream, not the"
		print "network, was the limit)."
		split("tcp verbs", FP, " ")
		for (a = 1; a <= 2; a++) {
			pv = FP[a]
			printf "\n### %s\n\n", pv
			delete S6; n = 0
			for (k in SIZES) { split(k, p, SUBSEP); if (p[1] == "fw" && (val("fw", pv "|" p[2] "|limit", "MBps") != "" || val("fw", pv "|" p[2] "|zero-copy", "MBps") != "" || val("fw", pv "|" p[2] "|copy", "MBps") != "")) S6[++n] = p[2] + 0 }
			for (i = 2; i <= n; i++) for (j = i; j > 1 && S6[j - 1] > S6[j]; j--) { t = S6[j]; S6[j] = S6[j - 1]; S6[j - 1] = t }
			if (!n) { print "Not measured: " skipped_why("forward-" pv) "."; continue }
			split("frame|limit MB/s|fi_msg_bw spin / sread MB/s|zero copy MB/s|zero copy frames/s|zc/limit|zc/limit by round|copy MB/s|copy/limit|frames dropped at the source (zc, copy)|CPU s/GB node a, zero copy (user + sys)|CPU s/GB node a, copy (user + sys)|copy/zc CPU|soft-RoCE resends, RNR retries (limit; zc; copy)|forwarder asleep, zc: on the network, on the FPGA", h, "|")
			header(h, 15)
			ext_reset(); nfl = 0; nlow = 0
			for (i = 1; i <= n; i++) {
				s = S6[i]; kl = pv "|" s "|limit"; kz = pv "|" s "|zero-copy"; kc = pv "|" s "|copy"
				lim = val("fw", kl, "MBps"); zm = val("fw", kz, "MBps"); cm = val("fw", kc, "MBps")
				r = ratio(zm, lim); mark = ""
				if (r != "" && r > 1.1) { mark = " ‡"; nlow++ }
				if (zm != "" && val("fw", kz, "lost") + 0 == 0) mark = mark " †"
				if (mark == "") ext_add(r, s); else if (r != "") nfl++
				c[1] = human(s); c[2] = num(lim)
				c[3] = num(val("fw", pv "|" s "|limit-spin", "MBps")) " / " num(val("fw", pv "|" s "|limit-sread", "MBps"))
				c[4] = num(zm) mark; c[5] = num(val("fw", kz, "frames_per_s"))
				c[6] = rnum(r); c[7] = ""
				for (rd = 1; ("fw", pv "|" s "|limit#" rd, "MBps") in V || ("fw", pv "|" s "|zero-copy#" rd, "MBps") in V; rd++)
					c[7] = c[7] (rd > 1 ? " " : "") rnum(ratio(val("fw", pv "|" s "|zero-copy#" rd, "MBps"), val("fw", pv "|" s "|limit#" rd, "MBps")))
				if (c[7] == "") c[7] = "–"
				c[8] = num(cm); c[9] = rnum(ratio(cm, lim))
				c[10] = sprintf("%s of %s, %s of %s", dash(val("fw", kz, "lost")), dash(val("fw", kz, "produced")),
					dash(val("fw", kc, "lost")), dash(val("fw", kc, "produced")))
				c[11] = num(val("fw", kz, "cpu_s_per_GB")) " (" num(val("fw", kz, "user_s_per_GB")) " + " num(val("fw", kz, "sys_s_per_GB")) ")"
				c[12] = num(val("fw", kc, "cpu_s_per_GB")) " (" num(val("fw", kc, "user_s_per_GB")) " + " num(val("fw", kc, "sys_s_per_GB")) ")"
				c[13] = rnum(ratio(val("fw", kc, "cpu_s_per_GB"), val("fw", kz, "cpu_s_per_GB")))
				c[14] = "–"
				if (val("fw", kl, "resends") != "" || val("fw", kz, "resends") != "" || val("fw", kc, "resends") != "")
					c[14] = sprintf("%s, %s; %s, %s; %s, %s", dash(val("fw", kl, "resends")), dash(val("fw", kl, "rnr_retries")),
						dash(val("fw", kz, "resends")), dash(val("fw", kz, "rnr_retries")),
						dash(val("fw", kc, "resends")), dash(val("fw", kc, "rnr_retries")))
				c[15] = "–"
				if (val("fw", kz, "asleep_network") != "")
					c[15] = sprintf("%.0f%%, %.0f%%", 100 * val("fw", kz, "asleep_network"), 100 * val("fw", kz, "asleep_source"))
				series("fwd-" pv "-limit", s, lim); series("fwd-" pv "-zc", s, zm); series("fwd-" pv "-copy", s, cm)
				row(c, 15)
			}
			done()
			text = "Goal: forwarding (zero copy) over " pv " at 90% or more of the network'\''s limit at every frame size"
			if (!NR_) print "\n**not measured**: " text ": no size with both figures" (nfl ? " where the limit is meaningful" : "") "."
			else printf "\n**%s**: %s: zc/limit %.2f to %.2f over %d %s, lowest at %s%s.\n", (MIN >= 0.9 ? "met" : "missed"),
				text, MIN, MAX, NR_, NR_ == 1 ? "size" : "sizes", human(MINAT), nfl ? sprintf(" (%d more marked ‡ or † left out)", nfl) : ""
		}
		for (i = 1; i <= NNOTE["fw"]; i++) print "\n- " NOTE["fw", i]
	}

	# ---- host to host
	section("Host to host: fpgadma against shm and rxe")
	if (!have_hf && !have_hs && !have_rxe && !have_pp)
		print "Not measured: " skipped_why("host-fpgadma") "; " skipped_why("rxe-read") "."
	else {
		print "The same program (fabtests/bench_rma -m host) with `-p fpgadma` and `-p shm`; perftest'\''s"
		print "ib_read_bw (rate) and ib_read_lat over soft-RoCE on loopback beside them. Rates in operations/s;"
		print "`fpgadma/shm` = fpgadma rate / shm rate (for pingpong: shm time / fpgadma time)."
		if (!have_hf) print "\nfpgadma: not measured: " skipped_why("host-fpgadma") "."
		if (!have_hs) print "\nshm: not measured: " skipped_why("host-shm") "."
		if (!have_rxe) print "\nrxe: not measured: " skipped_why("rxe-read") "."
		delete S2; n = 0
		for (k in SIZES) { split(k, p, SUBSEP); if ((p[1] == "hf" || p[1] == "hs" || p[1] == "rxe") && !((p[2] + 0) in seen)) { seen[p[2] + 0] = 1; S2[++n] = p[2] + 0 } }
		for (i = 2; i <= n; i++) for (j = i; j > 1 && S2[j - 1] > S2[j]; j--) { t = S2[j]; S2[j] = S2[j - 1]; S2[j - 1] = t }
		print "\n### Small-operation rate (operations/s)\n"
		host_table("rate", "ops_per_s", n)
		print "\n### Bandwidth (MB/s)\n"
		host_table("bw", "MBps", n)
		print "\n### Latency (µs): pingpong (half round trip, as fi_rdm_pingpong) and rxe'\''s ib_read_lat\n"
		split("size|fpgadma pingpong|shm pingpong|fpgadma/shm|rxe ib_read_lat", h, "|")
		header(h, 5)
		for (i = 1; i <= n; i++) {
			s = S2[i]
			fp = val("hf", "pingpong|lat|" s, "usec"); sp = val("hs", "pingpong|lat|" s, "usec")
			xl = val("rxe", "ib_read_lat|lat|" s, "usec")
			if (fp sp xl == "") continue
			c[1] = human(s); c[2] = num(fp); c[3] = num(sp); c[4] = rnum(ratio(sp, fp)); c[5] = num(xl)
			row(c, 5)
		}
		done()
		if (have_pp) {
			printf "\n### Latency (µs): the ping-pong alone, fpgadma with and without channels and shm in turn, %d round%s\n\n", NPP, NPP == 1 ? "" : "s"
			print "`bench_rma -m host -P` with `-p fpgadma`, then the same with `FI_FPGADMA_CHAN=0` (every message a"
			print "SEND through the kernel, as before the local message channels), then `-p shm`, and again: one run"
			print "of each varies more than they differ, so the goals below are judged on the median of the rounds"
			print "(the rounds in brackets)."
			print ""
			split("size|fpgadma (rounds)|fpgadma, CHAN=0 (rounds)|shm (rounds)|fpgadma, times shm'\''s|CHAN=0, times shm'\''s", h, "|")
			header(h, 6)
			delete S3; m3 = 0
			for (k in SIZES) { split(k, p, SUBSEP); if (p[1] == "pp" && !((p[2] + 0) in seen3)) { seen3[p[2] + 0] = 1; S3[++m3] = p[2] + 0 } }
			for (i = 2; i <= m3; i++) for (j = i; j > 1 && S3[j - 1] > S3[j]; j--) { t = S3[j]; S3[j] = S3[j - 1]; S3[j - 1] = t }
			for (i = 1; i <= m3; i++) {
				s = S3[i]
				fp = val("pp", "pingpong-fpgadma|lat|" s, "usec"); sp = val("pp", "pingpong-shm|lat|" s, "usec")
				kp = val("pp", "pingpong-fpgadma-kernel|lat|" s, "usec")
				rf = ""; rs = ""; rk = ""
				for (r = 1; r <= NPP; r++) {
					rf = rf (r > 1 ? " " : "") num(val("pp", "pingpong-fpgadma#" r "|lat|" s, "usec"))
					rk = rk (r > 1 ? " " : "") num(val("pp", "pingpong-fpgadma-kernel#" r "|lat|" s, "usec"))
					rs = rs (r > 1 ? " " : "") num(val("pp", "pingpong-shm#" r "|lat|" s, "usec"))
				}
				c[1] = human(s); c[2] = num(fp) " (" rf ")"; c[3] = kp == "" ? "–" : num(kp) " (" rk ")"
				c[4] = num(sp) " (" rs ")"; c[5] = rnum(ratio(fp, sp)); c[6] = rnum(ratio(kp, sp))
				row(c, 6)
			}
			done()
		}
		if (have_rxe) {
			print "\nib_read_lat is perftest'\''s t_typical. Over rxe on loopback under TCG it is often near one"
			print "scheduler tick (4 ms at HZ=250), while ib_read_bw completes reads every 50 to 150 µs with"
			print "several in flight: the rxe latency says more about soft-RoCE on loopback under emulation"
			print "than about ib_umem; its rate is the figure to compare."
		}
	}
	text = "small-operation rate at or above shm'\''s for the same program (host_read and host_write rate, 8 B to 4 KiB)"
	ext_reset()
	# on the medians of the alternating rounds of the rate step when it ran,
	# else on the one run of each host step
	for (k in SIZES) {
		split(k, p, SUBSEP)
		if (p[2] + 0 > 4096) continue
		if (have_rt && p[1] == "rt") {
			ext_add(ratio(val("rt", "host_read@fpgadma|rate|" p[2], "ops_per_s"), val("rt", "host_read@shm|rate|" p[2], "ops_per_s")), "read " p[2])
			ext_add(ratio(val("rt", "host_write@fpgadma|rate|" p[2], "ops_per_s"), val("rt", "host_write@shm|rate|" p[2], "ops_per_s")), "write " p[2])
		} else if (!have_rt && p[1] == "hf") {
			ext_add(ratio(val("hf", "host_read|rate|" p[2], "ops_per_s"), val("hs", "host_read|rate|" p[2], "ops_per_s")), "read " p[2])
			ext_add(ratio(val("hf", "host_write|rate|" p[2], "ops_per_s"), val("hs", "host_write|rate|" p[2], "ops_per_s")), "write " p[2])
		}
	}
	how = have_rt ? sprintf(", medians of %d alternating round%s", NRT, NRT == 1 ? "" : "s") : ", one run each"
	if (!NR_) goal(text, "not measured", !have_hf ? skipped_why("host-fpgadma") : skipped_why("host-shm"))
	else { split(MINAT, w, " "); goal(text, MIN >= 1 ? "met" : "missed", sprintf("fpgadma/shm %.2f to %.2f over %d points, lowest: host_%s at %s%s", MIN, MAX, NR_, w[1], human(w[2] + 0), how)) }
	# the ping-pong goals: on the medians of the alternating rounds when
	# the pingpong step ran, else on the one run of each host step
	if (have_pp) { pf = "pp"; ps = "pp"; tf = "pingpong-fpgadma"; ts = "pingpong-shm"; how = sprintf(", medians of %d alternating round%s", NPP, NPP == 1 ? "" : "s") }
	else { pf = "hf"; ps = "hs"; tf = ts = "pingpong"; how = ", one run each" }
	text = "8 B send/recv half round trip (pingpong) at most 1.5 times shm'\''s"
	fp = val(pf, tf "|lat|8", "usec"); sp = val(ps, ts "|lat|8", "usec")
	if (fp == "" || sp == "") goal(text, "not measured", !have_hf ? skipped_why("host-fpgadma") : skipped_why("host-shm"))
	else { r = ratio(fp, sp); goal(text, r <= 1.5 ? "met" : "missed", sprintf("fpgadma %s µs, shm %s µs: %.2f times%s", num(fp), num(sp), r, how)) }
	text = "64 KiB send/recv half round trip (pingpong) keeps its lead over shm'\''s (faster than it)"
	fp = val(pf, tf "|lat|65536", "usec"); sp = val(ps, ts "|lat|65536", "usec")
	if (fp == "" || sp == "") goal(text, "not measured", !have_hf ? skipped_why("host-fpgadma") : (!have_hs ? skipped_why("host-shm") : "no 64 KiB pingpong row"))
	else { r = ratio(fp, sp); goal(text, r < 1 ? "met" : "missed", sprintf("fpgadma %s µs, shm %s µs: %.2f times%s", num(fp), num(sp), r, how)) }

	# ---- atomics: fpgadma against shm, host to host, and on the FPGA
	section("Atomics: fpgadma against shm, and on the FPGA")
	if (!have_af && !have_as && !have_ag)
		print "Not measured: atomic-fpgadma: " skipped_why("atomic-fpgadma") "; atomic-shm: " skipped_why("atomic-shm") "; atomic-fpga: " skipped_why("atomic-fpga") "."
	else {
		print "The same program (fabtests/bench_rma -A) with `-m host -p fpgadma` and `-m host -p shm` (the atomics"
		print "target a forked server'\''s registered buffer) and with `-m fpga` (the FPGA'\''s memory, through fpgadma),"
		print "all in the same VM run. One FI_UINT64 (8 B) per operation: `fi_atomic` FI_SUM of 1, `fi_atomic_dc`"
		print "the same by fi_atomicmsg with FI_DELIVERY_COMPLETE, `fi_fetch_atomic` FI_SUM of 1, `fi_compare_atomic`"
		print "FI_CSWAP whose compare value matches; `lat`: one in flight, `rate`: a window in flight (-W, 64 unless"
		print "tx_size is smaller; the notes give each run'\''s). `fpgadma/shm` = fpgadma ops/s / shm ops/s. shm"
		print "completes a plain fi_atomic as soon as it is queued, fpgadma once the target has the sum, so the"
		print "fetch and compare rows, round trips for both, are the like-for-like comparison. Each run first"
		print "checked the results (sums exact, fetched values, CSWAP swapping only when it matched)."
		if (!have_af) print "\nfpgadma: not measured: " skipped_why("atomic-fpgadma") "."
		if (!have_as) print "\nshm: not measured: " skipped_why("atomic-shm") "."
		if (!have_ag) print "\nFPGA: not measured: " skipped_why("atomic-fpga") "."
		print ""
		split("operation|mode|fpgadma µs|shm µs|fpgadma ops/s|shm ops/s|fpgadma/shm|FPGA µs|FPGA ops/s", h, "|")
		header(h, 9)
		split("fi_atomic fi_atomic_dc fi_fetch_atomic fi_compare_atomic", at, " ")
		split("lat rate", am, " ")
		for (a = 1; a <= 4; a++) for (b = 1; b <= 2; b++) {
			k = at[a] "|" am[b] "|8"
			fu = val("af", k, "usec"); su = val("as", k, "usec"); gu = val("ag", k, "usec")
			fo = val("af", k, "ops_per_s"); so = val("as", k, "ops_per_s"); go = val("ag", k, "ops_per_s")
			if (fu su gu == "") continue
			c[1] = "`" at[a] "`"; c[2] = am[b]; c[3] = num(fu); c[4] = num(su); c[5] = num(fo); c[6] = num(so)
			c[7] = rnum(ratio(fo, so)); c[8] = num(gu); c[9] = num(go)
			row(c, 9)
		}
		done()
		print ""
		split("af as ag", rp, " "); split("fpgadma|shm|FPGA", rn, "|")
		for (a = 1; a <= 3; a++) for (i = 1; i <= NNOTE[rp[a]]; i++)
			if (NOTE[rp[a], i] ~ /^windows: |^checked: |not measured|KNOWN/) print "- " rn[a] ": " NOTE[rp[a], i]
	}

	# ---- buffers without desc: the provider cache on and off
	section("Buffers without desc: the registration cache on and off")
	if (!have_nc && !have_nn && !have_ns)
		print "Not measured: host-nodesc-cache: " skipped_why("host-nodesc-cache") "; host-nodesc-nocache: " skipped_why("host-nodesc-nocache") "."
	else {
		print "The same program (fabtests/bench_rma -m host -U): local buffers the application never registered,"
		print "desc NULL, the same buffers every iteration, as MPI passes them; the fpgadma provider registers them"
		print "itself, once into its cache (`FI_FPGADMA_MR_CACHE=1`, cache) or for every operation (`=0`, no cache);"
		print "shm with -U beside them. All three in the same VM run. `cache/no cache` and `cache/shm` are speed ratios"
		print "(bandwidth ratio; for pingpong the inverse time ratio)."
		if (!have_nc) print "\ncache: not measured: " skipped_why("host-nodesc-cache") "."
		if (!have_nn) print "\nno cache: not measured: " skipped_why("host-nodesc-nocache") "."
		if (!have_ns) print "\nshm: not measured: " skipped_why("host-nodesc-shm") "."
		delete S3; delete seen3; n = 0
		for (k in SIZES) { split(k, p, SUBSEP); if ((p[1] == "nc" || p[1] == "nn" || p[1] == "ns") && !((p[2] + 0) in seen3)) { seen3[p[2] + 0] = 1; S3[++n] = p[2] + 0 } }
		for (i = 2; i <= n; i++) for (j = i; j > 1 && S3[j - 1] > S3[j]; j--) { t = S3[j]; S3[j] = S3[j - 1]; S3[j - 1] = t }
		print "\n### Bandwidth (MB/s)\n"
		split("size|read: cache|read: no cache|cache/no cache|read: shm|cache/shm|write: cache|write: no cache|cache/no cache|write: shm|cache/shm", h, "|")
		header(h, 11)
		for (i = 1; i <= n; i++) {
			s = S3[i]; c[1] = human(s); any = 0
			split("host_read host_write", tt, " ")
			for (a = 1; a <= 2; a++) {
				vc = val("nc", tt[a] "|bw|" s, "MBps"); vn = val("nn", tt[a] "|bw|" s, "MBps"); vs = val("ns", tt[a] "|bw|" s, "MBps")
				c[5 * a - 3] = num(vc); c[5 * a - 2] = num(vn); c[5 * a - 1] = rnum(ratio(vc, vn))
				c[5 * a] = num(vs); c[5 * a + 1] = rnum(ratio(vc, vs))
				series("nodesc-cache-" tt[a], s, vc); series("nodesc-nocache-" tt[a], s, vn); series("nodesc-shm-" tt[a], s, vs)
				if (vc vn vs != "") any = 1
			}
			if (any) row(c, 11)
		}
		done()
		print "\n### Ping-pong latency (µs, half a round trip)\n"
		split("size|cache|no cache|cache/no cache|shm|cache/shm", h, "|")
		header(h, 6)
		for (i = 1; i <= n; i++) {
			s = S3[i]
			vc = val("nc", "pingpong|lat|" s, "usec"); vn = val("nn", "pingpong|lat|" s, "usec"); vs = val("ns", "pingpong|lat|" s, "usec")
			if (vc vn vs == "") continue
			c[1] = human(s); c[2] = num(vc); c[3] = num(vn); c[4] = rnum(ratio(vn, vc)); c[5] = num(vs); c[6] = rnum(ratio(vs, vc))
			row(c, 6)
		}
		done()
		print ""
		for (i = 1; i <= NNOTE["nc"]; i++) if (NOTE["nc", i] ~ /FI_FPGADMA_MR_CACHE|registration cache/) print "- cache run: " NOTE["nc", i]
		for (i = 1; i <= NNOTE["nn"]; i++) if (NOTE["nn", i] ~ /FI_FPGADMA_MR_CACHE|registration cache/) print "- no-cache run: " NOTE["nn", i]
	}

	# ---- Open MPI: the provider cache on and off, vader beside them
	section("Open MPI from unregistered buffers: the cache on and off, and vader")
	if (!have_mc && !have_mn && !have_mv)
		print "Not measured: mpi-cache: " skipped_why("mpi-cache") "; mpi-nocache: " skipped_why("mpi-nocache") "; mpi-vader: " skipped_why("mpi-vader") "."
	else {
		print "fabtests/mpi_pingpong -b: two Open MPI ranks in the guest, buffers malloc'\''d once and never registered"
		print "by the program, as an application'\''s. cm with the ofi MTL on the fpgadma provider, which registers"
		print "them itself, once into its cache (`FI_FPGADMA_MR_CACHE=1`, cache) or for every message (`=0`, no"
		print "cache); ob1 with the vader BTL (shared memory, copied through /dev/shm) beside them. All three in"
		print "the same VM run. Latency: half a ping-pong round trip; bandwidth: windows of 16 MPI_Isend, each"
		print "answered by a 0-byte message. `cache/no cache` and `cache/vader` are speed ratios (bandwidth ratio;"
		print "for latency the inverse time ratio)."
		if (!have_mc) print "\ncache: not measured: " skipped_why("mpi-cache") "."
		if (!have_mn) print "\nno cache: not measured: " skipped_why("mpi-nocache") "."
		if (!have_mv) print "\nvader: not measured: " skipped_why("mpi-vader") "."
		delete S4; delete seen4; n = 0
		for (k in SIZES) { split(k, p, SUBSEP); if ((p[1] == "mc" || p[1] == "mn" || p[1] == "mv") && !((p[2] + 0) in seen4)) { seen4[p[2] + 0] = 1; S4[++n] = p[2] + 0 } }
		for (i = 2; i <= n; i++) for (j = i; j > 1 && S4[j - 1] > S4[j]; j--) { t = S4[j]; S4[j] = S4[j - 1]; S4[j - 1] = t }
		print "\n### Latency (µs, half a round trip)\n"
		split("size|cache|no cache|cache/no cache|vader|cache/vader", h, "|")
		header(h, 6)
		for (i = 1; i <= n; i++) {
			s = S4[i]
			vc = val("mc", s, "lat_us"); vn = val("mn", s, "lat_us"); vs = val("mv", s, "lat_us")
			if (vc vn vs == "") continue
			c[1] = human(s); c[2] = num(vc); c[3] = num(vn); c[4] = rnum(ratio(vn, vc)); c[5] = num(vs); c[6] = rnum(ratio(vs, vc))
			series("mpi-cache-lat", s, vc); series("mpi-nocache-lat", s, vn); series("mpi-vader-lat", s, vs)
			row(c, 6)
		}
		done()
		print "\n### Bandwidth (MB/s)\n"
		header(h, 6)
		for (i = 1; i <= n; i++) {
			s = S4[i]
			vc = val("mc", s, "bw_MBps"); vn = val("mn", s, "bw_MBps"); vs = val("mv", s, "bw_MBps")
			if (vc vn vs == "") continue
			c[1] = human(s); c[2] = num(vc); c[3] = num(vn); c[4] = rnum(ratio(vc, vn)); c[5] = num(vs); c[6] = rnum(ratio(vc, vs))
			series("mpi-cache-bw", s, vc); series("mpi-nocache-bw", s, vn); series("mpi-vader-bw", s, vs)
			row(c, 6)
		}
		done()
		print ""
		split("mc mn mv", rp, " "); split("cache run|no-cache run|vader run", rn, "|")
		for (a = 1; a <= 3; a++) for (i = 1; i <= NNOTE[rp[a]]; i++)
			if (NOTE[rp[a], i] ~ /environment:|registration cache: /) print "- " rn[a] ": " NOTE[rp[a], i]
	}

	# ---- post_bench: a small operation, step by step, uninstrumented
	section("Where a small operation'\''s time goes")
	if (!have_pb) print "Not measured: " skipped_why("post") "."
	else {
		print "bench/post_bench (libfpgadma, one in flight): each row does a little more than the one before it, so"
		print "the differences are the costs of the steps, with no clock read inside them. The last rows are the"
		print "same 8 B read through the provider (bench_rma -m fpga, fi_read_mem) when those steps ran: through"
		print "the engine (rma-fpga-engine) and through the mapped device memory (rma-fpga, the default)."
		print ""
		split("step|µs|added|what the step adds", h, "|"); header(h, 4)
		np = split("syscall|0|getppid(): entering and leaving the kernel;ioctl_empty|0|the driver: an ioctl refused after entering the context;post_count0|0|POST: the argument'\''s copy;post_malformed|0|one WR copied in and checked;wr_nodata|0|a work request'\''s life with no bytes: allocation, the context'\''s lock, its completion slot, the engine, the CQE, the poll;read_mem|8|an MR resolved and held, 8 bytes moved", PR, ";")
		prev = ""
		for (i = 1; i <= np; i++) {
			split(PR[i], f, "|"); pu = val("pb", f[1] "|lat|" f[2], "usec")
			if (pu == "") continue
			c[1] = f[1] (f[2] + 0 ? " " human(f[2]) : ""); c[2] = num(pu)
			c[3] = prev == "" ? "–" : num(pu - prev); c[4] = f[3]; row(c, 4); prev = pu
		}
		fr = val("rme", "fi_read_mem|lat|8", "usec")
		if (fr != "" && prev != "") { c[1] = "fi_read_mem 8 B, engine"; c[2] = num(fr); c[3] = num(fr - prev); c[4] = "the provider: fi_read and fi_cq_read around the same WR (FI_FPGADMA_MEM_MAP_MAX=0)"; row(c, 4) }
		fr = val("rma", "fi_read_mem|lat|8", "usec")
		if (fr != "") { c[1] = "fi_read_mem 8 B, mapped"; c[2] = num(fr); c[3] = "–"; c[4] = "the provider'\''s default: loads and stores through the mapped device memory, no WR"; row(c, 4) }
		done()
		print ""
		split("size|read_mem µs|write_mem µs", h, "|"); header(h, 3)
		n = sizes("pb", S, 1)
		for (i = 1; i <= n; i++) {
			c[1] = human(S[i]); c[2] = num(val("pb", "read_mem|lat|" S[i], "usec")); c[3] = num(val("pb", "write_mem|lat|" S[i], "usec")); row(c, 3)
		}
		done()
	}

	# ---- stages
	section("Where the time goes (the module'\''s stage counters)")
	if (!have_st) print "Not measured: " skipped_why("stages") "."
	else {
		print TITLE["st"] ". Average ns per stage; share: of reg_total for the reg_* stages, of dereg_total for dereg_*,"
		print "of a work request'\''s life (queue_wait + engine: submission to completion) for queue_wait, engine"
		print "and complete; post_total is a POST call (with the work an engine ran inline)."
		nw = 0
		for (r = 1; r <= ROWS["st"]; r++) {
			k = ROWKEY["st", r]; WL[k] = val("st", k, "workload")
			if (!(WL[k] in wseen)) { wseen[WL[k]] = 1; W[++nw] = WL[k] }
		}
		for (wi = 1; wi <= nw; wi++) {
			printf "\n### %s\n\n", W[wi]
			split("stage|count|avg ns|share", h, "|"); header(h, 4)
			split("reg_total reg_pin reg_sg reg_map reg_key dereg_total dereg_wait dereg_unmap dereg_unpin post_total queue_wait engine complete", order, " ")
			for (oi = 1; oi <= 13; oi++) { shown[order[oi]] = 0 }
			for (oi = 1; oi <= 13; oi++) {
				k = W[wi] "|" order[oi]
				if (val("st", k, "count") == "") continue
				c[1] = order[oi]; c[2] = val("st", k, "count"); c[3] = num(val("st", k, "avg_ns"))
				c[4] = sprintf("%.0f%%", 100 * val("st", k, "share")); row(c, 4); shown[order[oi]] = 1
			}
			for (r = 1; r <= ROWS["st"]; r++) { k = ROWKEY["st", r]; if (WL[k] != W[wi]) continue; split(k, p, "|"); if (!(p[2] in shown) || !shown[p[2]]) {
				c[1] = p[2]; c[2] = val("st", k, "count"); c[3] = num(val("st", k, "avg_ns"))
				c[4] = sprintf("%.0f%%", 100 * val("st", k, "share")); row(c, 4) } }
			done()
		}
	}

	section("Goals")
	for (i = 1; i <= NGOALS; i++) print GOALS[i]

	if (NSKIP) {
		section("Skipped")
		for (k in SKIP) printf "- %s: %s\n", k, SKIP[k]
	}
}' > "$dir/report.md.tmp"

# --- plots
terminal=
if command -v gnuplot >/dev/null; then
	for t in pngcairo png; do
		if echo "set terminal $t" | gnuplot 2>/dev/null; then terminal=$t; break; fi
	done
fi
# plot NAME TITLE XLABEL YLABEL LOGSCALE SERIES:LABEL...: NAME.png from the
# series files that exist; nothing when none does.
plot() {
	local name=$1 title=$2 xl=$3 yl=$4 logs=$5 s sep='' cmd=''
	shift 5
	for s in "$@"; do
		[ -s "$plots/${s%%:*}.dat" ] || continue
		cmd+="$sep'$plots/${s%%:*}.dat' using 1:2 with linespoints title '${s#*:}'"
		sep=', '
	done
	[ -n "$cmd" ] || return 0
	gnuplot <<-EOF
		set terminal $terminal size 900,600
		set termoption noenhanced
		set output '$dir/$name.png'
		set xtics ($xtics)
		set title '$title'
		set xlabel '$xl'
		set ylabel '$yl'
		set logscale $logs
		set key left top
		set grid
		plot $cmd
	EOF
	printf '\n![%s](%s.png)\n' "$title" "$name" >> "$dir/report.md.tmp"
}
# Sizes on the x axes: 1, 4, 16 ... 1G, in binary units.
xtics=
for e in $(seq 0 2 30); do
	v=$((1 << e))
	if [ "$e" -ge 30 ]; then l="$((v >> 30))G"
	elif [ "$e" -ge 20 ]; then l="$((v >> 20))M"
	elif [ "$e" -ge 10 ]; then l="$((v >> 10))K"
	else l=$v; fi
	xtics+="${xtics:+, }\"$l\" $v"
done
if [ -n "$terminal" ]; then
	printf '\n## Plots\n' >> "$dir/report.md.tmp"
	for t in prefaulted first-touch; do
		plot "reg-$t" "Registration + deregistration, $t" 'bytes' 'µs per pair' xy \
			"reg-$t-libfpgadma-4k:libfpgadma 4k" "reg-$t-fi_mr_reg-4k:fi_mr_reg 4k" \
			"reg-$t-ibv_reg_mr-4k:ibv_reg_mr (rxe) 4k" "reg-$t-libfpgadma-thp:libfpgadma thp" \
			"reg-$t-fi_mr_reg-thp:fi_mr_reg thp" "reg-$t-ibv_reg_mr-thp:ibv_reg_mr (rxe) thp"
	done
	plot reg-cache 'fi_mr_reg + fi_close: cache hit against cold, prefaulted' 'bytes' 'µs per pair' xy \
		cache-cold-4k:'cold (cache off) 4k' cache-hit-4k:'cache hit 4k' \
		cache-cold-thp:'cold (cache off) thp' cache-hit-thp:'cache hit thp'
	plot rma-bw 'Device bandwidth against memcpy' 'bytes' 'MB/s' xy \
		bw-fi_read_mem:fi_read_mem bw-fi_write_mem:fi_write_mem \
		bw-fi_read_stream:fi_read_stream bw-memcpy:memcpy
	plot stream-bw 'Paced streams: throughput at the highest rate without a drop, against memcpy' 'frame size (bytes)' 'MB/s' xy \
		stream-MBps-libfpgadma:'libfpgadma (mapped ring)' stream-MBps-fi-copy:'libfabric copy mode (FI_MULTI_RECV)' \
		stream-MBps-fi-zc:'libfabric zero-copy ring' stream-memcpy:'memcpy of one frame'
	plot forward-bw 'Forwarding to another node against the network limit (fi_msg_bw), node a to node b' 'frame size (bytes)' 'MB/s' x \
		fwd-tcp-limit:'tcp: fi_msg_bw' fwd-tcp-zc:'tcp: forward, zero copy' fwd-tcp-copy:'tcp: forward, copy' \
		fwd-verbs-limit:'verbs (rxe): fi_msg_bw' fwd-verbs-zc:'verbs (rxe): forward, zero copy' \
		fwd-verbs-copy:'verbs (rxe): forward, copy'
	plot small-ops 'Small-operation rate: fpgadma, shm, rxe' 'bytes' 'operations/s' xy \
		rate-fpgadma-host_read:'fpgadma host_read' rate-shm-host_read:'shm host_read' \
		rate-fpgadma-host_write:'fpgadma host_write' rate-shm-host_write:'shm host_write' \
		rate-rxe-ib_read_bw:'rxe ib_read_bw' rate-fpga-fi_read_mem:'fpgadma fi_read (FPGA)'
	plot host-bw 'Host-to-host bandwidth: fpgadma, shm' 'bytes' 'MB/s' xy \
		bw-fpgadma-host_read:'fpgadma host_read' bw-shm-host_read:'shm host_read' \
		bw-fpgadma-host_write:'fpgadma host_write' bw-shm-host_write:'shm host_write'
	plot host-nodesc-bw 'Bandwidth without desc (-U): fpgadma cache on and off, shm' 'bytes' 'MB/s' xy \
		nodesc-cache-host_read:'fpgadma cache host_read' nodesc-nocache-host_read:'fpgadma no cache host_read' \
		nodesc-shm-host_read:'shm host_read' nodesc-cache-host_write:'fpgadma cache host_write' \
		nodesc-nocache-host_write:'fpgadma no cache host_write' nodesc-shm-host_write:'shm host_write'
	plot mpi-bw 'Open MPI bandwidth from unregistered buffers: fpgadma cache on and off, vader' 'bytes' 'MB/s' xy \
		mpi-cache-bw:'cm + ofi on fpgadma, cache' mpi-nocache-bw:'cm + ofi on fpgadma, no cache' \
		mpi-vader-bw:'ob1 + vader (shared memory)'
	plot mpi-lat 'Open MPI ping-pong latency from unregistered buffers: fpgadma cache on and off, vader' 'bytes' 'µs (half a round trip)' xy \
		mpi-cache-lat:'cm + ofi on fpgadma, cache' mpi-nocache-lat:'cm + ofi on fpgadma, no cache' \
		mpi-vader-lat:'ob1 + vader (shared memory)'
else
	printf '\nNo plots: gnuplot with a PNG terminal is not installed (gnuplot-nox).\n' >> "$dir/report.md.tmp"
fi
mv "$dir/report.md.tmp" "$dir/report.md"
rm -rf "$plots"
