"""What a job will cost before it runs: the calibrated cost model and the queue's estimates."""
