# fpgadma_kernel.m4 - find the kernel the module is built against and the
# kernel image the VM tests boot.
#
# FPGADMA_KERNEL
#   --with-kernel-dir=DIR     kernel build tree (default: /lib/modules/<newest
#                             release that has a build dir>/build)
#   --without-kernel-dir      do not build the module
#   --with-kernel-image=FILE  kernel the VM tests boot (default:
#                             /boot/vmlinuz-<release of the build tree>)
#
# Sets and substitutes KERNEL_DIR, KERNEL_RELEASE and KERNEL_IMAGE; defines
# the automake conditionals BUILD_KMOD (the module can be built) and
# HAVE_KERNEL_IMAGE (the VM tests can boot).  A missing kernel is a warning,
# never an error: the user-space parts still build and test.

AC_DEFUN([FPGADMA_KERNEL], [
AC_ARG_WITH([kernel-dir],
	[AS_HELP_STRING([--with-kernel-dir=DIR],
		[kernel build tree to build the modules against
		 @<:@default: /lib/modules/NEWEST/build@:>@])],
	[], [with_kernel_dir=check])
AC_ARG_WITH([kernel-image],
	[AS_HELP_STRING([--with-kernel-image=FILE],
		[kernel image the VM tests boot
		 @<:@default: /boot/vmlinuz-RELEASE of the build tree@:>@])],
	[], [with_kernel_image=check])

KERNEL_DIR=
KERNEL_RELEASE=
AC_MSG_CHECKING([for a kernel build tree])
AS_CASE([$with_kernel_dir],
	[no], [AC_MSG_RESULT([disabled])],
	[check|yes], [
		# Newest release under /lib/modules that has a build tree.
		for fpgadma_rel in `ls /lib/modules 2>/dev/null | sort -V -r`; do
			if test -f "/lib/modules/$fpgadma_rel/build/Makefile"; then
				KERNEL_DIR=/lib/modules/$fpgadma_rel/build
				KERNEL_RELEASE=$fpgadma_rel
				break
			fi
		done
		AS_IF([test -n "$KERNEL_DIR"],
			[AC_MSG_RESULT([$KERNEL_DIR])],
			[AC_MSG_RESULT([none])
			 AC_MSG_WARN([no kernel build tree found under /lib/modules: the kernel modules will not be built.
Install the headers of the kernel to build for, for example
  apt-get install linux-image-amd64 linux-headers-amd64
(scripts/install-deps.sh installs everything) or pass --with-kernel-dir=DIR.])])],
	[
		AS_IF([test -f "$with_kernel_dir/Makefile"],
			[KERNEL_DIR=`cd "$with_kernel_dir" && pwd`
			 AC_MSG_RESULT([$KERNEL_DIR])],
			[AC_MSG_RESULT([no])
			 AC_MSG_ERROR([--with-kernel-dir=$with_kernel_dir: no kernel build tree there (no Makefile)])])
		# The release is the name of the /lib/modules entry whose build
		# link leads here (Debian's headers carry the upstream version in
		# include/config/kernel.release), else kernel.release.
		fpgadma_real=`cd "$KERNEL_DIR" && pwd -P`
		for fpgadma_rel in `ls /lib/modules 2>/dev/null`; do
			if test -d "/lib/modules/$fpgadma_rel/build" &&
			   test "`cd "/lib/modules/$fpgadma_rel/build" && pwd -P`" = "$fpgadma_real"; then
				KERNEL_RELEASE=$fpgadma_rel
				break
			fi
		done
		if test -z "$KERNEL_RELEASE" && test -f "$KERNEL_DIR/include/config/kernel.release"; then
			KERNEL_RELEASE=`cat "$KERNEL_DIR/include/config/kernel.release"`
		fi
	])
AS_IF([test -n "$KERNEL_DIR" && test -n "$KERNEL_RELEASE"],
	[AC_MSG_CHECKING([kernel release])
	 AC_MSG_RESULT([$KERNEL_RELEASE])])

KERNEL_IMAGE=
AC_MSG_CHECKING([for the kernel image the VM tests boot])
AS_CASE([$with_kernel_image],
	[no], [AC_MSG_RESULT([disabled])],
	[check|yes], [
		AS_IF([test -n "$KERNEL_RELEASE" && test -r "/boot/vmlinuz-$KERNEL_RELEASE"],
			[KERNEL_IMAGE=/boot/vmlinuz-$KERNEL_RELEASE
			 AC_MSG_RESULT([$KERNEL_IMAGE])],
			[AC_MSG_RESULT([none])
			 AS_IF([test -n "$KERNEL_DIR"],
				[AC_MSG_WARN([no readable /boot/vmlinuz-$KERNEL_RELEASE: the VM tests cannot run.
Install the matching image (apt-get install linux-image-$KERNEL_RELEASE) or pass --with-kernel-image=FILE.])])])],
	[
		AS_IF([test -r "$with_kernel_image"],
			[KERNEL_IMAGE=`cd "\`dirname "$with_kernel_image"\`" && pwd`/`basename "$with_kernel_image"`
			 AC_MSG_RESULT([$KERNEL_IMAGE])],
			[AC_MSG_RESULT([no])
			 AC_MSG_ERROR([--with-kernel-image=$with_kernel_image: not a readable file])])
	])

AC_SUBST([KERNEL_DIR])
AC_SUBST([KERNEL_RELEASE])
AC_SUBST([KERNEL_IMAGE])
AM_CONDITIONAL([BUILD_KMOD], [test -n "$KERNEL_DIR"])
AM_CONDITIONAL([HAVE_KERNEL_IMAGE], [test -n "$KERNEL_IMAGE"])
])
