"""Datasets as numpy arrays: loaders, the split, synthetic shapes, and the Oxford-IIIT Pet builder."""
