"""explain: what the window is looking at and why the model answers as it does. The session
(the drawing, the predictor, what each panel shows), saliency, the inspection tools (confusion
matrix, robustness sweep) and the epochs a run recorded for the scrubber."""
