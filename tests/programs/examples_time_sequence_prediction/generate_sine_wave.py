# Third-party program run by tests/test_programs.py under PyTorch and under cltensor.
# Source: https://github.com/pytorch/examples/blob/77f55b912142e11fcfdf5b530231fb9c52f181e8/time_sequence_prediction/generate_sine_wave.py
# Kept as published except the lines marked '# cltensor-edit:'.
import numpy as np
import torch

np.random.seed(2)

T = 20
L = 100  # cltensor-edit: sequences of 100 steps instead of 1000 (time)
N = 20  # cltensor-edit: 20 sequences instead of 100 (time)

x = np.empty((N, L), 'int64')
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype('float64')
torch.save(data, open('traindata.pt', 'wb'))
