const es = { title: "reports" };

const en: typeof es = { title: "reports" };

export default { es, en };
