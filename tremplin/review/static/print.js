// "Imprimer" on the "why these offers" record (inline scripts are refused by the page's CSP)
document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-print]");
  if (target) {
    event.preventDefault();
    window.print();
  }
});
