// Posts the cart back to the procurement system as soon as the page loads.
(function () {
  var form = document.getElementById("return-form");
  if (form) { form.submit(); }
})();
