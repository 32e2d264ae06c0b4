// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * prov_info: what fi_info shows of the fpgadma provider, checked against
 * the devices the kernel has.
 *  1. fi_getinfo with only the provider name lists every /dev/fpgadmaN
 *     once, as domain "fpgadmaN" of fabric "fpgadma", FI_EP_RDM, with the
 *     caps its engine (/sys/class/fpgadma/fpgadmaN/engine) allows: a soft
 *     FPGA messages, tagged and RMA between hosts; an edu device only RMA
 *     to its FPGA.
 *  2. Hints as an MPI stack gives them (FI_MSG | FI_TAGGED | FI_REMOTE_COMM,
 *     av_type FI_AV_UNSPEC, FI_THREAD_DOMAIN, FI_DELIVERY_COMPLETE) match
 *     exactly the devices with host endpoints, with the threading level
 *     returned as asked and both op flags kept.
 *  3. Each domain's FPGA (fi_open_ops FI_FPGADMA_DOMAIN_OPS_1): its engine
 *     and device index match sysfs, it has memory and a key.
 *  4. fi_getparams (what fi_info -e prints) has the FI_FPGADMA_* parameters.
 * Prints an fi_info-like summary of each domain.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdma/fi_ext_fpgadma.h>

#define MAX_DEVS 16

struct dev {
	bool present;
	char engine[16];
	unsigned int seen;
};

static struct dev devs[MAX_DEVS];

static void read_sysfs(void)
{
	char path[128];
	unsigned int i;
	FILE *f;

	for (i = 0; i < MAX_DEVS; i++) {
		snprintf(path, sizeof(path), "/sys/class/fpgadma/fpgadma%u/engine", i);
		f = fopen(path, "r");
		if (!f)
			continue;
		devs[i].present = true;
		if (!fgets(devs[i].engine, sizeof(devs[i].engine), f))
			devs[i].engine[0] = 0;
		devs[i].engine[strcspn(devs[i].engine, "\n")] = 0;
		fclose(f);
	}
}

static int dev_of(const struct fi_info *fi)
{
	unsigned int n;
	char extra;

	if (sscanf(fi->domain_attr->name, "fpgadma%u%c", &n, &extra) != 1 || n >= MAX_DEVS)
		return -1;
	return (int)n;
}

static bool host_ep(int n)
{
	return !strcmp(devs[n].engine, "soft");
}

static void list_all(void)
{
	struct fi_info *hints = fi_allocinfo(), *info = NULL, *fi;
	const uint64_t host_caps = FI_MSG | FI_TAGGED | FI_RMA | FI_REMOTE_COMM;
	unsigned int i, n_info = 0;
	int ret;

	hints->fabric_attr->prov_name = strdup("fpgadma");
	ret = fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, hints, &info);
	if (ret)
		ft_fatal("fi_getinfo(prov fpgadma): %s", fi_strerror(-ret));
	for (fi = info; fi; fi = fi->next) {
		int n = dev_of(fi);
		/* fi_tostr's buffer is reused by the next call: keep a copy. */
		char *s = strdup(fi_tostr(&fi->caps, FI_TYPE_CAPS));

		n_info++;
		ft_log("provider %s %u.%u, fabric %s, domain %s, %s, caps %s",
		       fi->fabric_attr->prov_name, FI_MAJOR(fi->fabric_attr->prov_version),
		       FI_MINOR(fi->fabric_attr->prov_version), fi->fabric_attr->name,
		       fi->domain_attr->name, fi_tostr(&fi->ep_attr->type, FI_TYPE_EP_TYPE), s);
		free(s);
		ft_check(!strcmp(fi->fabric_attr->prov_name, "fpgadma"), "provider %s",
			 fi->fabric_attr->prov_name);
		ft_check(!strcmp(fi->fabric_attr->name, "fpgadma"), "fabric %s",
			 fi->fabric_attr->name);
		/* RDM for every device, then MSG and DGRAM for host endpoints */
		ft_check(fi->ep_attr->type == FI_EP_RDM ||
			 fi->ep_attr->type == FI_EP_MSG ||
			 fi->ep_attr->type == FI_EP_DGRAM, "ep type %d", fi->ep_attr->type);
		ft_check(fi->fabric_attr->api_version == FI_VERSION(1, 17) ||
			 FI_VERSION_GE(fi->fabric_attr->api_version, FI_VERSION(1, 17)),
			 "api version %u.%u", FI_MAJOR(fi->fabric_attr->api_version),
			 FI_MINOR(fi->fabric_attr->api_version));
		if (n < 0 || !devs[n].present) {
			ft_error("domain %s names no device in sysfs", fi->domain_attr->name);
			continue;
		}
		if (fi->ep_attr->type != FI_EP_RDM) {
			ft_check(host_ep(n) && (fi->caps & FI_MSG),
				 "%s: %s info of a device without host endpoints",
				 fi->domain_attr->name,
				 fi_tostr(&fi->ep_attr->type, FI_TYPE_EP_TYPE));
			continue;
		}
		devs[n].seen++;
		if (host_ep(n))
			ft_check((fi->caps & host_caps) == host_caps,
				 "%s (soft engine) lacks host caps", fi->domain_attr->name);
		else
			ft_check((fi->caps & FI_RMA) && !(fi->caps & (FI_MSG | FI_TAGGED)),
				 "%s (%s engine): caps should be RMA to the FPGA only",
				 fi->domain_attr->name, devs[n].engine);
	}
	for (i = 0; i < MAX_DEVS; i++) {
		if (devs[i].present)
			ft_check(devs[i].seen >= 1, "fpgadma%u (%s) not listed", i, devs[i].engine);
		else
			ft_check(!devs[i].seen, "fpgadma%u listed but not in sysfs", i);
	}
	ft_check(n_info > 0, "no fi_info at all");
	fi_freeinfo(info);
	fi_freeinfo(hints);
}

static void mpi_hints(void)
{
	struct fi_info *hints = fi_allocinfo(), *info = NULL, *fi;
	unsigned int i, matched[MAX_DEVS] = { 0 };
	int ret;

	hints->fabric_attr->prov_name = strdup("fpgadma");
	hints->caps = FI_MSG | FI_TAGGED | FI_REMOTE_COMM | FI_LOCAL_COMM;
	hints->ep_attr->type = FI_EP_RDM;
	hints->domain_attr->av_type = FI_AV_UNSPEC;
	hints->domain_attr->threading = FI_THREAD_DOMAIN;
	hints->domain_attr->resource_mgmt = FI_RM_ENABLED;
	hints->domain_attr->mr_mode = FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_VIRT_ADDR;
	hints->tx_attr->op_flags = FI_COMPLETION | FI_DELIVERY_COMPLETE;
	hints->mode = FI_CONTEXT;
	ret = fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, hints, &info);
	if (ret)
		ft_fatal("fi_getinfo(MPI hints): %s", fi_strerror(-ret));
	for (fi = info; fi; fi = fi->next) {
		int n = dev_of(fi);

		if (n < 0)
			continue;
		matched[n]++;
		ft_check(fi->domain_attr->threading == FI_THREAD_DOMAIN,
			 "%s: threading %d, asked FI_THREAD_DOMAIN", fi->domain_attr->name,
			 fi->domain_attr->threading);
		ft_check((fi->tx_attr->op_flags & (FI_COMPLETION | FI_DELIVERY_COMPLETE)) ==
			 (FI_COMPLETION | FI_DELIVERY_COMPLETE), "%s: op_flags 0x%llx",
			 fi->domain_attr->name, (unsigned long long)fi->tx_attr->op_flags);
		ft_check(fi->domain_attr->resource_mgmt == FI_RM_ENABLED, "%s: resource_mgmt",
			 fi->domain_attr->name);
		ft_check(!(fi->domain_attr->mr_mode & FI_MR_LOCAL), "%s: FI_MR_LOCAL required",
			 fi->domain_attr->name);
	}
	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].present)
			ft_check(!!matched[i] == host_ep((int)i),
				 "MPI hints %s fpgadma%u (%s engine)",
				 matched[i] ? "matched" : "did not match", i, devs[i].engine);
	ft_log("MPI-style hints (FI_MSG|FI_TAGGED|FI_REMOTE_COMM, FI_AV_UNSPEC, FI_THREAD_DOMAIN, "
	       "FI_DELIVERY_COMPLETE) match the devices with host endpoints, as asked");
	fi_freeinfo(info);
	fi_freeinfo(hints);
}

static void fpgas(void)
{
	struct fi_info *hints = fi_allocinfo(), *info = NULL, *fi;
	int ret;

	hints->fabric_attr->prov_name = strdup("fpgadma");
	hints->caps = FI_RMA;
	ret = fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, hints, &info);
	if (ret)
		ft_fatal("fi_getinfo(FI_RMA): %s", fi_strerror(-ret));
	for (fi = info; fi; fi = fi->next) {
		struct fi_fpgadma_ops_domain *ops = NULL;
		struct fi_fpgadma_fpga fpga;
		struct fid_fabric *fabric;
		struct fid_domain *domain;
		int n = dev_of(fi);

		if (n < 0 || !devs[n].present)
			continue;
		FT_CALL(fi_fabric(fi->fabric_attr, &fabric, NULL));
		FT_CALL(fi_domain(fabric, fi, &domain, NULL));
		FT_CALL(fi_open_ops(&domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&ops, NULL));
		memset(&fpga, 0, sizeof(fpga));
		FT_CALL(ops->query_fpga(domain, &fpga));
		ft_log("%s: FPGA of the %s engine: %llu bytes of memory (key 0x%llx), "
		       "%llu-byte frames (key 0x%llx), address %zu bytes",
		       fi->domain_attr->name, devs[n].engine, (unsigned long long)fpga.mem_size,
		       (unsigned long long)fpga.mem_key, (unsigned long long)fpga.frame_size,
		       (unsigned long long)fpga.stream_key, fpga.addrlen);
		ft_check(fpga.dev_index == (uint32_t)n, "dev_index %u for %s", fpga.dev_index,
			 fi->domain_attr->name);
		ft_check(fpga.engine == (host_ep(n) ? FI_FPGADMA_ENGINE_SOFT : FI_FPGADMA_ENGINE_EDU),
			 "%s: engine %u, sysfs says %s", fi->domain_attr->name, fpga.engine,
			 devs[n].engine);
		ft_check(fpga.mem_size > 0 && fpga.mem_key == FI_FPGADMA_MEM_KEY,
			 "%s: memory %llu key 0x%llx", fi->domain_attr->name,
			 (unsigned long long)fpga.mem_size, (unsigned long long)fpga.mem_key);
		ft_check(fpga.addrlen > 0 && fpga.addrlen <= FI_FPGADMA_ADDRLEN, "addrlen %zu",
			 fpga.addrlen);
		FT_CALL(fi_close(&domain->fid));
		FT_CALL(fi_close(&fabric->fid));
	}
	fi_freeinfo(info);
	fi_freeinfo(hints);
}

static void params(void)
{
	static const char *const want[] = {
		"FI_FPGADMA_EAGER_SIZE", "FI_FPGADMA_RX_BUFS", "FI_FPGADMA_TX_BUFS",
		"FI_FPGADMA_RNR_RETRY_US", "FI_FPGADMA_INJECT_SIZE", "FI_FPGADMA_POLL_YIELD",
		"FI_FPGADMA_POST_BATCH", "FI_FPGADMA_CONNECT_TIMEOUT_MS",
		"FI_FPGADMA_MR_CACHE", "FI_FPGADMA_MR_CACHE_MAX_COUNT",
		"FI_FPGADMA_MR_CACHE_MAX_SIZE",
	};
	struct fi_param *p = NULL;
	int count = 0, i;
	size_t j;

	FT_CALL(fi_getparams(&p, &count));
	for (j = 0; j < sizeof(want) / sizeof(want[0]); j++) {
		bool found = false;

		for (i = 0; i < count; i++) {
			if (strcmp(p[i].name, want[j]))
				continue;
			found = true;
			ft_log("%s: %s", p[i].name, p[i].help_string);
			ft_check(p[i].help_string && *p[i].help_string, "%s has no help", want[j]);
		}
		ft_check(found, "fi_getparams does not list %s", want[j]);
	}
	fi_freeparams(p);
}

int main(int argc, char **argv)
{
	unsigned int i, ndev = 0;

	ft_parse(argc, argv, NULL, "", NULL);
	read_sysfs();
	for (i = 0; i < MAX_DEVS; i++)
		ndev += devs[i].present;
	if (!ndev)
		ft_skip("no fpgadma device (no /sys/class/fpgadma/fpgadma*): the module is not loaded");
	list_all();
	mpi_hints();
	fpgas();
	params();
	return ft_finish("%u devices listed once each with their engine's caps, MPI hints, "
			 "FPGA queries and the FI_FPGADMA_* parameters as expected", ndev);
}
