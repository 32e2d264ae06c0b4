// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma stage timing: where the time of registration, deregistration and
 * work goes, for benchmarks to break down.
 *
 * With the stage_timing parameter off (the default) a stage costs a patched
 * no-op branch (a static key) and nothing else.  With it on, each stage
 * reads the clock at its start and end and adds one count and the
 * nanoseconds to per-cpu counters of the device; debugfs
 * fpgadma/<device>/stages shows their sums, one "<stage> <count> <total_ns>"
 * line per stage, and a write to it resets them.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "fpgadma.h"

DEFINE_STATIC_KEY_FALSE(fpgadma_stage_timing);
/* Engines time their own stages with fpgadma_stage_start() and _end(). */
EXPORT_SYMBOL_GPL(fpgadma_stage_timing);

static int stage_timing_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int ret;

	ret = kstrtobool(val, &on);
	if (ret)
		return ret;
	if (on)
		static_branch_enable(&fpgadma_stage_timing);
	else
		static_branch_disable(&fpgadma_stage_timing);
	return 0;
}

static int stage_timing_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%c\n",
			  static_key_enabled(&fpgadma_stage_timing) ? 'Y' : 'N');
}

static const struct kernel_param_ops stage_timing_ops = {
	.set = stage_timing_set,
	.get = stage_timing_get,
};
module_param_cb(stage_timing, &stage_timing_ops, NULL, 0644);
MODULE_PARM_DESC(stage_timing, "Time the stages of registration and work, shown in debugfs fpgadma/<device>/stages (default N)");

static const char * const fpgadma_stage_names[FPGADMA_NR_STAGES] = {
	[FPGADMA_STAGE_REG_TOTAL]	= "reg_total",
	[FPGADMA_STAGE_REG_PIN]		= "reg_pin",
	[FPGADMA_STAGE_REG_SG]		= "reg_sg",
	[FPGADMA_STAGE_REG_MAP]		= "reg_map",
	[FPGADMA_STAGE_REG_KEY]		= "reg_key",
	[FPGADMA_STAGE_DEREG_TOTAL]	= "dereg_total",
	[FPGADMA_STAGE_DEREG_WAIT]	= "dereg_wait",
	[FPGADMA_STAGE_DEREG_UNMAP]	= "dereg_unmap",
	[FPGADMA_STAGE_DEREG_UNPIN]	= "dereg_unpin",
	[FPGADMA_STAGE_POST_TOTAL]	= "post_total",
	[FPGADMA_STAGE_QUEUE_WAIT]	= "queue_wait",
	[FPGADMA_STAGE_ENGINE]		= "engine",
	[FPGADMA_STAGE_COMPLETE]	= "complete",
	[FPGADMA_STAGE_HOST_DIRECT]	= "host_direct",
	[FPGADMA_STAGE_HOST_STAGED]	= "host_staged",
};

static struct dentry *fpgadma_debugfs_root;

/**
 * fpgadma_stage_add() - count one pass through a stage of @ns nanoseconds.
 * @fdev:	the device.
 * @stage:	enum fpgadma_stage.
 * @ns:		its duration.
 *
 * Any context, also interrupt.  Use fpgadma_stage_end(), which calls this
 * only while stage timing is on.
 *
 * Context: any context, also interrupt.
 */
void fpgadma_stage_add(struct fpgadma_dev *fdev, enum fpgadma_stage stage,
		       u64 ns)
{
	this_cpu_inc(fdev->stages->count[stage]);
	this_cpu_add(fdev->stages->ns[stage], ns);
}
EXPORT_SYMBOL_GPL(fpgadma_stage_add);

/**
 * fpgadma_work_start() - an engine starts running @work.
 * @work:	work the engine took from fpgadma_engine_ops.submit.
 *
 * With stage timing on, the time it waited since submission counts as
 * queue_wait, and its engine stage begins (it ends in fpgadma_work_done()).
 *
 * Context: any context, also interrupt.
 */
void fpgadma_work_start(struct fpgadma_wqe *work)
{
	u64 now;

	if (!static_branch_unlikely(&fpgadma_stage_timing))
		return;
	now = ktime_get_ns();
	if (work->t_submit)
		fpgadma_stage_add(work->ctx->fdev, FPGADMA_STAGE_QUEUE_WAIT,
				  now - work->t_submit);
	work->t_start = now;
}
EXPORT_SYMBOL_GPL(fpgadma_work_start);

static int fpgadma_stages_show(struct seq_file *m, void *v)
{
	struct fpgadma_dev *fdev = m->private;
	u64 count, ns;
	int stage, cpu;

	for (stage = 0; stage < FPGADMA_NR_STAGES; stage++) {
		count = 0;
		ns = 0;
		for_each_possible_cpu(cpu) {
			struct fpgadma_stage_counters *c = per_cpu_ptr(fdev->stages, cpu);

			count += READ_ONCE(c->count[stage]);
			ns += READ_ONCE(c->ns[stage]);
		}
		seq_printf(m, "%s %llu %llu\n", fpgadma_stage_names[stage],
			   count, ns);
	}
	return 0;
}

static int fpgadma_stages_open(struct inode *inode, struct file *file)
{
	return single_open(file, fpgadma_stages_show, inode->i_private);
}

/*
 * Any write resets the counters.  A pass that ends on another CPU while
 * they are cleared may survive the reset or be lost: stop the load first
 * for exact figures.
 */
static ssize_t fpgadma_stages_write(struct file *file, const char __user *buf,
				    size_t count, loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	struct fpgadma_dev *fdev = m->private;
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(fdev->stages, cpu), 0,
		       sizeof(struct fpgadma_stage_counters));
	return count;
}

static const struct file_operations fpgadma_stages_fops = {
	.owner = THIS_MODULE,
	.open = fpgadma_stages_open,
	.read = seq_read,
	.write = fpgadma_stages_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/**
 * fpgadma_stages_init() - allocate a device's counters and its debugfs files.
 * @fdev:	a device being registered, with its chardev created.
 *
 * A missing debugfs is no error: the counters still exist, unseen.
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int fpgadma_stages_init(struct fpgadma_dev *fdev)
{
	fdev->stages = alloc_percpu(struct fpgadma_stage_counters);
	if (!fdev->stages)
		return -ENOMEM;
	fdev->debugfs = debugfs_create_dir(dev_name(fdev->chardev),
					   fpgadma_debugfs_root);
	debugfs_create_file("stages", 0644, fdev->debugfs, fdev,
			    &fpgadma_stages_fops);
	return 0;
}

/**
 * fpgadma_stages_exit() - undo fpgadma_stages_init(); no work may be left.
 * @fdev:	the device.
 *
 * Removing the files waits for readers and writers still inside them.
 *
 * Context: process context, may sleep.
 */
void fpgadma_stages_exit(struct fpgadma_dev *fdev)
{
	debugfs_remove_recursive(fdev->debugfs);
	free_percpu(fdev->stages);
}

/**
 * fpgadma_stages_module_init() - the debugfs directory "fpgadma".
 *
 * Context: process context (module init).
 */
void fpgadma_stages_module_init(void)
{
	fpgadma_debugfs_root = debugfs_create_dir("fpgadma", NULL);
}

/**
 * fpgadma_stages_module_exit() - remove it.
 *
 * Context: process context (module exit).
 */
void fpgadma_stages_module_exit(void)
{
	debugfs_remove_recursive(fpgadma_debugfs_root);
}
