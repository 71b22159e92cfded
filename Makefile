# ferry — GNU make.  `make`, `make check`, `make check-asan`, `make bench`,
# `make fuzz`, `make fuzz-ci`, `make format-check`, `make demo`,
# `make install PREFIX=/usr/local DESTDIR=`.
VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
PKGS := yaml-0.1 libcjson
# Loaded on first use (src/clients/dl-*.c): headers only, never linked.
DL_PKGS := libcurl libvirt libguestfs libxml-2.0
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(DL_PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
FERRY_CFLAGS := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
  -DFERRY_VERSION='"$(VERSION)"' -DFERRY_DOCDIR='"$(PREFIX)/share/doc/ferry"' -Wall -Wextra -Werror -pthread \
  -Isrc -I. $(PKG_CFLAGS)
# librbd/librados (no .pc file on Debian 12) are loaded on first use too;
# -ldl for dlopen (part of libc since glibc 2.34).
LIBS := $(PKG_LIBS) -ldl -ldeflate -lz -lcrypto -pthread -lm
# Sanitizer builds: libasan resolves its interceptors once, at start-up, so
# a library whose functions it intercepts must be loaded then, not by a
# later dlopen: libtirpc's xdr* (libguestfs needs it) would be called
# through a NULL pointer.
ifneq ($(findstring sanitize,$(CFLAGS)),)
LIBS += -Wl,--no-as-needed -l:libtirpc.so.3 -Wl,--as-needed
endif

# src/cmd/ is CLI code (it prints and picks exit codes): built into the
# binary, never into the library.
CLI_SRCS := $(wildcard src/cmd/*.c)
CLI_OBJS := $(CLI_SRCS:.c=.o)
LIB_SRCS := $(filter-out src/main.c $(CLI_SRCS),$(wildcard src/*/*.c modules/*.c))
LIB_OBJS := $(LIB_SRCS:.c=.o)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:.c=)
TEST_HELPERS_SRCS := $(wildcard tests/helpers/*.c)
TEST_HELPERS := $(TEST_HELPERS_SRCS:.c=)
SHELL_TESTS := $(sort $(wildcard tests/t/*.t))

all: ferry $(TEST_HELPERS)

%.o: %.c
	$(CC) $(FERRY_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) src/main.d

libferry.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

ferry: src/main.o $(CLI_OBJS) build/schema.o libferry.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# `ferry schema` prints the JSON Schema compiled in from schemas/.
build/schema.c: schemas/ferry-plan-v1.json
	mkdir -p build
	{ echo 'const char ferry_schema_json[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $<; echo ';'; } > $@

tests/unit/test-%: tests/unit/test-%.c libferry.a
	$(CC) $(FERRY_CFLAGS) $(CFLAGS) -o $@ $< libferry.a $(LIBS) -lcmocka

# The command table's test links the CLI objects (not main.o).
tests/unit/test-cmd: tests/unit/test-cmd.c $(CLI_OBJS) build/schema.o libferry.a
	$(CC) $(FERRY_CFLAGS) $(CFLAGS) -o $@ $< $(CLI_OBJS) build/schema.o libferry.a $(LIBS) -lcmocka

tests/helpers/%: tests/helpers/%.c libferry.a
	$(CC) $(FERRY_CFLAGS) $(CFLAGS) -o $@ $< libferry.a $(LIBS)

# OpenStack tests (tests/t/7*-os-*.t) need the lab of tests/lab: `make check`
# starts it in FERRY_OSLAB in the background (the other tests run meanwhile;
# the OpenStack tests wait for it on its lock, tests/lab/os-env.sh, and fail
# at once if it did not start: FERRY_OSLAB_ONCE=1) and stops
# it at the end if it started it (FERRY_OSLAB_KEEP=1 keeps it).  A lab
# already healthy there is reused and left running.  FERRY_NO_OSLAB=1 runs
# no OpenStack test (check-asan).
OSLAB_TESTS := $(wildcard tests/t/7*-os-*.t)
FERRY_OSLAB ?= $(or $(TMPDIR),/tmp)/ferry-oslab
FERRY_OSLAB_KEEP ?= 0
FERRY_NO_OSLAB ?= 0
ifeq ($(FERRY_NO_OSLAB),1)
override SHELL_TESTS := $(filter-out $(OSLAB_TESTS),$(SHELL_TESTS))
endif
# Guest tests (tests/t/8*-guest-*.t) launch libguestfs appliances under TCG
# on images they build (cached: tests/guest/env.sh); FERRY_NO_GUESTLAB=1
# leaves them out (check-asan).
GUEST_TESTS := $(wildcard tests/t/8*-guest-*.t)
FERRY_NO_GUESTLAB ?= 0
ifeq ($(FERRY_NO_GUESTLAB),1)
override SHELL_TESTS := $(filter-out $(GUEST_TESTS),$(SHELL_TESTS))
endif
# libvirt lab tests (tests/t/9*-libvirt-*.t) run two libvirtd "hosts" in
# network namespaces (tests/lab/libvirt-lab.sh; one at a time, on a lock);
# FERRY_NO_LVLAB=1 leaves them out (check-asan).
LVLAB_TESTS := $(wildcard tests/t/9*-libvirt-*.t)
FERRY_NO_LVLAB ?= 0
ifeq ($(FERRY_NO_LVLAB),1)
override SHELL_TESTS := $(filter-out $(LVLAB_TESTS),$(SHELL_TESTS))
endif
# The RADOS state and scale-out tests over their own Ceph
# (tests/t/31-state-rados.t, 32-workers-rados.t: locks that expire and
# processes raced in seconds, polled through Ceph clients);
# FERRY_NO_WAVELAB=1 leaves them out (check-asan: labs).
WAVELAB_TESTS := tests/t/31-state-rados.t tests/t/32-workers-rados.t
FERRY_NO_WAVELAB ?= 0
ifeq ($(FERRY_NO_WAVELAB),1)
override SHELL_TESTS := $(filter-out $(WAVELAB_TESTS),$(SHELL_TESTS))
endif
# the OpenStack tests this run includes (none: no lab)
OSLAB_RUN := $(filter $(OSLAB_TESTS),$(SHELL_TESTS))

check: all $(UNIT_BINS)
	@lab=; owned=0; \
	if [ -n "$(OSLAB_RUN)" ]; then \
	  lab='$(FERRY_OSLAB)'; mkdir -p "$$lab" || exit 1; \
	  tests/lab/openstack-lab.sh status "$$lab" >/dev/null 2>&1 || owned=1; \
	  rm -f "$$lab/.ensure-failed"; \
	  echo "check: OpenStack lab in $$lab: ensuring it in the background"; \
	  tests/lab/openstack-lab.sh ensure "$$lab" >"$$lab/.make-ensure.out" 2>&1 & bg=$$!; \
	fi; \
	FERRY_OSLAB="$$lab" FERRY_OSLAB_ONCE=1 CMOCKA_MESSAGE_OUTPUT=TAP prove -j2 --exec '' $(UNIT_BINS) $(SHELL_TESTS); rc=$$?; \
	if [ -n "$$lab" ]; then \
	  wait $$bg; sed 's/^/check: /' "$$lab/.make-ensure.out"; \
	  if [ $$owned = 1 ] && [ '$(FERRY_OSLAB_KEEP)' != 1 ]; then tests/lab/openstack-lab.sh stop "$$lab"; \
	  else echo "check: OpenStack lab left running in $$lab (stop: tests/lab/openstack-lab.sh stop $$lab)"; fi; \
	fi; \
	exit $$rc

# The same tests under AddressSanitizer + UBSan, in a separate build tree
# (without the OpenStack tests tests/t/7*-os-*.t: they need the lab).
check-asan:
	$(MAKE) clean-objs
	$(MAKE) check FERRY_NO_OSLAB=1 FERRY_NO_GUESTLAB=1 FERRY_NO_LVLAB=1 FERRY_NO_WAVELAB=1 CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all'
	$(MAKE) clean-objs

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS := $(FUZZ_SRCS:.c=)
FUZZ_SECONDS ?= 30
# qemu-img's smallest VHDX is 9-11 MiB: libFuzzer's default 1 MiB input cap
# cut every VHDX seed to its first MiB (135 edges in 10 s instead of 614).
FUZZ_MAX_LEN ?= 12582912
# -DFERRY_FUZZING: the VHD/VHDX readers skip checksum verification (as
# libpng does) so mutated inputs reach the parsers behind the checks.
fuzz:
	$(MAKE) clean-objs
	$(MAKE) CC=clang CFLAGS='-O1 -g -DFERRY_FUZZING -fsanitize=fuzzer-no-link,address,undefined' libferry.a
	for f in $(FUZZ_SRCS); do \
	  clang $(FERRY_CFLAGS) -O1 -g -DFERRY_FUZZING -fsanitize=fuzzer,address,undefined -o $${f%.c} $$f libferry.a $(LIBS) || exit 1; done
	$(MAKE) clean-objs
	for f in $(FUZZ_BINS); do n=$$(basename $$f | sed 's/^fuzz-//'); \
	  mkdir -p $$f.corpus; \
	  if [ -x tests/fuzz/seeds-$$n.sh ]; then tests/fuzz/seeds-$$n.sh $$f.corpus || exit 1; fi; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -rss_limit_mb=2048 -timeout=10 $$f.corpus > $$f.log 2>&1 || { tail -40 $$f.log; exit 1; }; \
	  tail -1 $$f.log; done

# CI: every fuzzer, briefly (FUZZ_CI_SECONDS each, seeded as above); a crash,
# leak, timeout or sanitizer report fails the build.
FUZZ_CI_SECONDS ?= 20
fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)

bench: all
	bash bench/run.sh

# The README's first command: packages, build, the example.
demo:
	bash scripts/install-deps
	$(MAKE) all
	bash scripts/demo.sh

install: ferry
	install -D -m 0755 ferry $(DESTDIR)$(PREFIX)/bin/ferry
	for m in docs/*.md; do \
	  install -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/doc/ferry/$$(basename $$m); done
	install -D -m 0644 schemas/ferry-plan-v1.json $(DESTDIR)$(PREFIX)/share/ferry/ferry-plan-v1.json

FORMAT_FILES = $(wildcard src/*.c src/*/*.c src/*/*.h modules/*.c modules/*.h tests/unit/*.c tests/fuzz/*.c tests/fuzz/*.h tests/helpers/*.c tests/guest/*.c)
format:
	clang-format -i $(FORMAT_FILES)

# CI: fail (listing each offending line) when a file is not clang-format clean.
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean-objs:
	rm -f $(LIB_OBJS) $(LIB_OBJS:.o=.d) $(CLI_OBJS) $(CLI_OBJS:.o=.d) src/main.o src/main.d libferry.a

clean: clean-objs
	rm -rf build
	rm -f ferry $(UNIT_BINS) $(TEST_HELPERS) $(FUZZ_BINS)

.PHONY: all check check-asan fuzz fuzz-ci bench demo install format format-check clean clean-objs
