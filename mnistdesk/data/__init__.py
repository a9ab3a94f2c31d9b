"""data: digits to learn from and to measure on. The bundled sample, MNIST and Fashion-MNIST
downloads and `.npz` files, real pen drawings, the user's own labelled drawings, augmentation,
and MNIST's test digits re-drawn as canvas strokes."""
