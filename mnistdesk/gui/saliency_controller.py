"""The saliency overlay's controls: its action (Ctrl+G), its button under the canvas and the menu
of method and opacity. Choices go to the session (the opacity straight to the canvas) and are
remembered; the session's maps come back to the canvas and the bars. SmoothGrad waits for the
drawing to rest."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolButton, QWidget

from mnistdesk.base.settings import bool_setting, choice_setting, int_setting
from mnistdesk.explain.session import SALIENCY_METHODS, Explanation, Session
from mnistdesk.gui.canvas import DEFAULT_HEAT_OPACITY, DrawingCanvas
from mnistdesk.gui.panels import SaliencyMenu, SoftmaxPanel, saliency_caption

#: SmoothGrad waits until the drawing has rested this long (it costs about 20 plain gradients).
SMOOTHGRAD_REST_MS = 200
SALIENCY_TIP = (
    "Lay a heat map over the canvas: which pixels raised (red) or lowered (blue) the probability of the\n"
    "predicted class, or of the class whose bar you click in Prediction. Live while you draw.\n"
    "The arrow beside the button chooses the method (Gradient or SmoothGrad) and the opacity."
)


class SaliencyController(QObject):
    """Owns the overlay's action, button and menu; the window only places them."""

    def __init__(self, window: QWidget, settings: QSettings, session: Session, canvas: DrawingCanvas, softmax: SoftmaxPanel, arithmetic_shown: Callable[[], bool] = lambda: False):
        """``arithmetic_shown``: whether the Arithmetic panel is on screen (a bar click is then for it)."""
        super().__init__(window)
        self.settings, self.session, self.canvas, self.softmax = settings, session, canvas, softmax
        self.arithmetic_shown = arithmetic_shown
        self.action = QAction("&Saliency overlay", window)
        self.action.setShortcut(QKeySequence("Ctrl+G"))
        self.action.setStatusTip(SALIENCY_TIP)
        self.action.setToolTip(SALIENCY_TIP)
        self.action.setCheckable(True)
        self.action.setIconText("Saliency")
        self.action.triggered.connect(self._on_action_triggered)
        self.menu = SaliencyMenu(window)
        self.button = QToolButton()
        self.button.setDefaultAction(self.action)
        self.button.setMenu(self.menu)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SMOOTHGRAD_REST_MS)
        self.timer.timeout.connect(session.refine_saliency)
        self.menu.method_changed.connect(self._on_menu_method_changed)
        self.menu.opacity_changed.connect(self._on_menu_opacity_changed)
        softmax.class_clicked.connect(self._on_softmax_class_clicked)
        session.events.saliency_changed.connect(self._on_session_saliency_changed)

    def restore(self) -> None:
        """The overlay's method, opacity and on/off as the user left them."""
        self.menu.set_method(choice_setting(self.settings.value("saliency/method"), "gradient", SALIENCY_METHODS))
        self.session.set_saliency_method(self.menu.method())
        self.menu.opacity.setValue(int_setting(self.settings.value("saliency/opacity"), round(DEFAULT_HEAT_OPACITY * 100), 10, 100))
        self.canvas.set_saliency_opacity(self.menu.opacity.value() / 100)
        if bool_setting(self.settings.value("saliency/shown"), False):
            self.action.trigger()

    def stop(self) -> None:
        self.timer.stop()

    def _on_action_triggered(self, shown: bool) -> None:
        self.settings.setValue("saliency/shown", shown)
        self.session.set_saliency_wanted(shown)

    def _on_menu_method_changed(self, method: str) -> None:
        self.settings.setValue("saliency/method", method)
        self.session.set_saliency_method(method)

    def _on_menu_opacity_changed(self, opacity: float) -> None:
        self.settings.setValue("saliency/opacity", round(opacity * 100))
        self.canvas.set_saliency_opacity(opacity)

    def _on_softmax_class_clicked(self, index: int) -> None:
        """A bar picks its class for the overlay, turning the overlay on if it was off, unless
        the click was for the Arithmetic panel (on screen): that one leaves the canvas as it is."""
        if not self.action.isChecked() and not self.arithmetic_shown():
            self.action.trigger()
        self.session.pick_class(index)

    def _on_session_saliency_changed(self, explanation: Explanation) -> None:
        self.canvas.set_saliency(explanation.heat)
        self.canvas.set_caption(saliency_caption(explanation, self.softmax.class_names))
        self.softmax.show_picked(explanation.class_index if explanation.picked else None)
        if explanation.settled:
            self.timer.stop()
        else:  # SmoothGrad once nothing has changed for a moment
            self.timer.start()
