"""ink: a drawing or a picture becomes the model's 28×28 input. Strokes re-drawn in MNIST's
proportions, MNIST's preprocessing (crop, fit 20×20, centre by mass), image files read safely,
and the pixel operations under them."""
