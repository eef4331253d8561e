const es = { title: "support" };

const en: typeof es = { title: "support" };

export default { es, en };
