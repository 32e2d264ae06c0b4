#!/bin/sh
# ft-runfabtests (VM guest): libfabric's own runfabtests.sh, unmodified,
# against the fpgadma provider, server and client in this guest, the way
# its documentation runs it:
#
#   runfabtests.sh -vv -t SET -p BIN -s 127.0.0.1 -c 127.0.0.1 fpgadma
#
# (SET: the first argument, default quick.)  Server and client are given
# with -s and -c: runfabtests.sh starts a test on a host named as its 2nd
# and 3rd argument through ssh, which the guest does not have; with -s/-c
# it starts both sides here, at those addresses.  No exclude file, no -e.
# Built into the initramfs's .upstream side archive by mkinitramfs.sh, with
# upstream's fabtests (tests/upstream-fabtests.sh) in BIN, and bash,
# python3 (errno), timeout, getopt and ps, which runfabtests.sh needs, in
# TOOLS (first in PATH; busybox has the rest).  FI_PROVIDER_PATH comes from
# the ft-runfabtests wrapper.
#
# Output: runfabtests.sh's own (its YAML records, the output of failed and
# notrun cases, its summary lines), and after each case's record a line
#   FPGADMA-CASE ok NAME | FPGADMA-CASE not ok NAME |
#   FPGADMA-CASE skip NAME # REASON
# which guest-init.sh turns into a TAP line "ft-runfabtests: NAME" of its
# own (Pass, Fail, Notrun or Excluded; NAME is the case as runfabtests.sh
# prints it, without -p "fpgadma").  Exit status 0 when runfabtests.sh ran
# to its summary and the cases seen add up to its totals (its failures are
# counted as the cases' TAP lines), else 1.
#
# FPGADMA_RUNFABTESTS_PROVIDER replaces fpgadma (to try the harness with
# another provider; never for the suite's run).
set -u

dir=/usr/libexec/fpgadma-upstream-fabtests
bin=$dir/bin
set_=${1:-quick}
prov=${FPGADMA_RUNFABTESTS_PROVIDER:-fpgadma}
PATH=$dir/tools:$PATH
export PATH

if [ ! -x "$bin/runfabtests.sh" ]; then
	echo "SKIP: $bin/runfabtests.sh is missing (the .upstream side archive was not appended)"
	exit 77
fi
echo "upstream fabtests: $(cat "$dir/source" 2>/dev/null || echo 'source unknown')"
echo "+ runfabtests.sh -vv -t $set_ -p $bin -s 127.0.0.1 -c 127.0.0.1 $prov"
rc_file=$PWD/runfabtests.rc
rm -f "$rc_file"
{ "$bin/runfabtests.sh" -vv -t "$set_" -p "$bin" -s 127.0.0.1 -c 127.0.0.1 "$prov" 2>&1
  echo $? > "$rc_file"; } |
awk -v prov="$prov" '
	function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
	# the case that ended: its marker line
	function flush(  r, why) {
		if (name == "") return
		r = result
		if (r ~ /^Pass/) { print "FPGADMA-CASE ok " name; npass++ }
		else if (r ~ /^Fail/) { print "FPGADMA-CASE not ok " name; nfail++ }
		else if (r == "Notrun" || r == "Excluded") {
			why = "runfabtests " r
			# a side that failed (runfabtests counts a case notrun
			# when the other side exits with FI_ENODATA/FI_ENOSYS)
			if (failline != "") why = why ", but a side failed: " failline
			else if (detail != "") why = why ": " detail
			print "FPGADMA-CASE skip " name " # " why; nskip++
		} else { print "FPGADMA-CASE not ok " name " (result \"" r "\")"; nfail++; odd++ }
		fflush()
		name = result = detail = failline = ""
	}
	# a case ends where the next begins, or at the summary
	/^- name: / || /^# / { flush() }
	{ print; fflush() }
	/^- name: / {
		name = trim(substr($0, 9))
		# the provider option every case carries
		p = " -p \"" prov "\""
		i = index(name, p)
		if (i) name = trim(substr(name, 1, i - 1) substr(name, i + length(p)))
		gsub(/#/, "", name)
		next
	}
	name != "" && /^  result: / { result = trim(substr($0, 11)); next }
	# an error a side reported (fabtests print "[error] ...")
	name != "" && /^    / && /\[error\]/ && failline == "" {
		failline = trim($0); gsub(/#/, "", failline)
		if (length(failline) > 160) failline = substr(failline, 1, 160) "..."
		next
	}
	# why a case did not run: the last error line its programs printed
	name != "" && /^    / && /ret=-?[0-9]|No data available|Function not implemented|not supported|[Nn]o such/ {
		detail = trim($0); gsub(/#/, "", detail)
		if (length(detail) > 160) detail = substr(detail, 1, 160) "..."
		next
	}
	/^# Total Pass / { tpass = $NF + 0; summary++ }
	/^# Total Notrun\/Excluded / { tskip = $NF + 0; summary++ }
	/^# Total Fail / { tfail = $NF + 0; summary++ }
	END {
		flush()
		printf "runfabtests cases: %d pass, %d fail, %d notrun/excluded\n", npass, nfail, nskip
		if (summary < 3) { print "runfabtests.sh printed no summary (it stopped early)"; exit 1 }
		if (tpass != npass || tfail != nfail - odd || tskip != nskip) {
			printf "its summary says %d pass, %d fail, %d notrun/excluded: the cases do not add up\n", tpass, tfail, tskip
			exit 1
		}
		if (npass + nfail + nskip == 0) { print "no case ran"; exit 1 }
	}'
ok=$?
rc=$(cat "$rc_file" 2>/dev/null || echo '?')
echo "runfabtests.sh exit status $rc (its number of failed cases)"
exit $ok
