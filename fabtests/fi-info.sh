#!/bin/sh
# fi-info: libfabric's own fi_info lists the fpgadma provider as a user
# sees it: one FI_EP_RDM domain per /dev/fpgadmaN (fi_info -p fpgadma -t
# FI_EP_RDM; devices with host endpoints also have FI_EP_MSG and
# FI_EP_DGRAM infos) and the FI_FPGADMA_* runtime parameters (fi_info -e);
# FI_FPGADMA_DEVICES keeps only the devices it names (by number and by
# name), and with nothing valid in it none, saying why.  Run in the VM, where the
# module is loaded; FI_PROVIDER_PATH names the provider's directory.
command -v fi_info >/dev/null || { echo "SKIP: no fi_info (libfabric-bin) in this system"; exit 77; }
ndev=$(ls -d /sys/class/fpgadma/fpgadma* 2>/dev/null | wc -l)
[ "$ndev" -gt 0 ] || { echo "FAIL: no fpgadma device"; exit 1; }
out=$(fi_info -p fpgadma -t FI_EP_RDM 2>&1) || { echo "$out"; echo "FAIL: fi_info -p fpgadma -t FI_EP_RDM failed"; exit 1; }
echo "$out"
fail=0
for d in /sys/class/fpgadma/fpgadma*; do
	name=${d##*/}
	n=$(echo "$out" | grep -c "domain: $name\$")
	[ "$n" -eq 1 ] || { echo "FAIL: domain $name listed $n times"; fail=1; }
done
echo "$out" | grep -q "provider: fpgadma" || { echo "FAIL: no 'provider: fpgadma'"; fail=1; }
echo "$out" | grep -q "fabric: fpgadma" || { echo "FAIL: no 'fabric: fpgadma'"; fail=1; }
params=$(fi_info -e 2>/dev/null | grep -a '^# FI_FPGADMA_')
echo "$params"
for p in EAGER_SIZE RX_BUFS TX_BUFS RNR_RETRY_US INJECT_SIZE POLL_YIELD POST_BATCH RX_REPOST CONNECT_TIMEOUT_MS DEVICES; do
	echo "$params" | grep -q "FI_FPGADMA_$p:" || { echo "FAIL: fi_info -e lacks FI_FPGADMA_$p"; fail=1; }
done
# FI_FPGADMA_DEVICES: the last device by number, the first by name, both.
last=0
for d in /sys/class/fpgadma/fpgadma*; do
	[ "${d##*fpgadma}" -le "$last" ] || last=${d##*fpgadma}
done
# only_devices VALUE EXPECTED...: fi_info lists exactly the EXPECTED domains
only_devices() {
	v=$1
	shift
	got=$(FI_FPGADMA_DEVICES=$v fi_info -p fpgadma -t FI_EP_RDM 2>/dev/null |
		sed -n 's/^ *domain: //p' | sort | tr '\n' ' ')
	want=$(for d in "$@"; do echo "$d"; done | sort | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		echo "FI_FPGADMA_DEVICES=$v: domains ${got:-(none)}"
	else
		echo "FAIL: FI_FPGADMA_DEVICES=$v: domains '$got', expected '$want'"
		fail=1
	fi
}
only_devices "$last" "fpgadma$last"
only_devices fpgadma0 fpgadma0
[ "$last" -eq 0 ] || only_devices "fpgadma0,$last" fpgadma0 "fpgadma$last"
only_devices bogus
warn=$(FI_LOG_LEVEL=warn FI_FPGADMA_DEVICES=bogus fi_info -p fpgadma 2>&1 | grep -a 'FI_FPGADMA_DEVICES')
echo "$warn"
case $warn in
*'"bogus" is not a device'*) ;;
*) echo "FAIL: no warning about FI_FPGADMA_DEVICES=bogus"; fail=1 ;;
esac
[ $fail -eq 0 ] && echo "PASS: fi_info lists $ndev domain(s), one per device, the 9 FI_FPGADMA_* parameters, and FI_FPGADMA_DEVICES's choice"
exit $fail
