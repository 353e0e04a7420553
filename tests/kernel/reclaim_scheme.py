"""The DAMON_RECLAIM scheme both reclaim proofs apply (test_kernel_live.py on
the stock kernel, test_kernel_reclaim.py on the custom one); the jobs put
the biggest System RAM range in for @REGION@."""

RECLAIM = """\
# DAMON_RECLAIM: page out what was idle for 1 s, 64 MiB a second at most
monitor {
    ops paddr
    sample 5ms
    aggr 100ms
    nr_regions 10..1000
}
target region @REGION@
scheme {
    action pageout
    size 4K..max
    access 0..0 samples
    age 1s..max
    quota {
        size 64M
        reset 1s
    }
    watermarks {
        metric free_mem_rate
        interval 1s
        high 100%
        mid 100%
        low 0%
    }
}
"""
