const es = { title: "profile" };

const en: typeof es = { title: "profile" };

export default { es, en };
